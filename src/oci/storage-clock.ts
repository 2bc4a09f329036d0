import type { StorageDriver } from '../../storage-drivers/types';
import { paths } from './paths';

/**
 * Now, by the storage's clock: times compared with modTimes are the storage's own, whatever this
 * host's clock says. `marker` names the writer in the clock file, for whoever looks.
 */
export async function storageNow(driver: StorageDriver, marker: string): Promise<number> {
  await driver.putContent(paths.gcClock, Buffer.from(marker), { durable: false });
  return (await driver.stat(paths.gcClock)).modTime.getTime();
}
