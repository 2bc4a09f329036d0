import type { RouteName } from '../src/http/router';
import type { Access } from './types';

/** The full catalog: Distribution's `registry:catalog:*`. */
export const CATALOG_ACCESS: Access = { type: 'registry', name: 'catalog', actions: ['*'] };

/**
 * The access a /v2 route needs, as Distribution maps it: GET/HEAD pull; POST/PUT/PATCH pull+push;
 * DELETE delete. The base route needs authentication only; the catalog needs nothing more (the
 * route filters it unless the caller holds CATALOG_ACCESS). A mount's `from` is checked by the route.
 */
export function accessForRoute(route: RouteName, method: string, repository: string): Access[] {
  // Where every repository's bytes go: as much as the full catalog tells, and no less.
  if (route === 'insight-storage') return [CATALOG_ACCESS];
  if (route === 'base' || route === 'catalog' || repository === '') return [];
  // Image insight reports what a pull would get, and no more: pull, whatever the method.
  if (route === 'insight' || route === 'insight-files' || route === 'tag-details' || route === 'usage') return [{ type: 'repository', name: repository, actions: ['pull'] }];
  switch (method) {
    case 'GET':
    case 'HEAD':
      return [{ type: 'repository', name: repository, actions: ['pull'] }];
    case 'POST':
    case 'PUT':
    case 'PATCH':
      return [{ type: 'repository', name: repository, actions: ['pull', 'push'] }];
    case 'DELETE':
      return [{ type: 'repository', name: repository, actions: ['delete'] }];
    default:
      return [{ type: 'repository', name: repository, actions: [method.toLowerCase()] }];
  }
}
