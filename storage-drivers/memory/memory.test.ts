import { createMemoryDriver } from '../index';
import { runDriverSuite } from '../testsuite/driver-suite';

runDriverSuite('memory', async () => ({ driver: createMemoryDriver(), cleanup: async () => {} }));
