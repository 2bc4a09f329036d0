import type { ServerResponse } from 'node:http';
import type { RouteName } from './router';

/** What the layers of one request tell each other: the id for logs, the route for logs and metrics. */
export interface RequestState {
  reqId: string;
  /** The route table's name once the dispatcher matched a /v2 route. */
  route?: RouteName;
  /** The authenticated user once auth/ granted the request, for the access log. */
  user?: string;
  /** Called once the route is known (metrics count upload requests in flight from then on). */
  onRoute?: (route: RouteName) => void;
}

const STATE = Symbol('berth.request');

type WithState = ServerResponse & { [STATE]?: RequestState };

/** Attaches state to a response; plain property, so the hot path pays no map lookup. */
export function initState(res: ServerResponse, reqId: string): RequestState {
  const state: RequestState = { reqId };
  (res as WithState)[STATE] = state;
  return state;
}

export function stateOf(res: ServerResponse): RequestState {
  return (res as WithState)[STATE] ?? initState(res, '-');
}
