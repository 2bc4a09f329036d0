import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatScope, parseScope, parseScopes } from '../../auth/scope';
import { globToRegExp, Policy } from '../../auth/policy';
import { accessForRoute } from '../../auth/request-access';
import { loadConfig } from '../../src/config/load';
import { configSchema } from '../../src/config/schema';
import { ACCESS_CONTROL } from './helpers';

describe('scope grammar', () => {
  test('type, name and actions; a name may carry host:port', () => {
    assert.deepEqual(parseScope('repository:samalba/my-app:pull,push'), { type: 'repository', name: 'samalba/my-app', actions: ['pull', 'push'] });
    assert.deepEqual(parseScope('repository:localhost:5000/foo/bar:pull'), { type: 'repository', name: 'localhost:5000/foo/bar', actions: ['pull'] });
    assert.deepEqual(parseScope('registry:catalog:*'), { type: 'registry', name: 'catalog', actions: ['*'] });
    assert.deepEqual(parseScope('repository(plugin):a/b:pull'), { type: 'repository', name: 'a/b', actions: ['pull'] });
  });

  test('several scopes, repeated or space-separated, merge per resource', () => {
    assert.deepEqual(parseScopes(['repository:a:pull', 'repository:b:push repository:a:push', 'registry:catalog:*']), [
      { type: 'repository', name: 'a', actions: ['pull', 'push'] },
      { type: 'repository', name: 'b', actions: ['push'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    assert.deepEqual(parseScopes([]), []);
    assert.equal(formatScope({ type: 'repository', name: 'h:1/a', actions: ['pull', 'push'] }), 'repository:h:1/a:pull,push');
  });

  test('malformed scopes are refused', () => {
    for (const bad of ['repository', 'repository:foo', ':foo:pull', 'repository::pull', 'Repo:foo:pull', 'repository:foo:PULL', 'repository:foo:pull;rm'])
      assert.throws(() => parseScope(bad), /malformed scope/, bad);
  });
});

describe('policy engine', () => {
  const policy = new Policy(configSchema.parse({ auth: { accesscontrol: ACCESS_CONTROL } }).auth.accesscontrol!);

  test('globs: * stays within a component, ** crosses them, **/ may match nothing', () => {
    assert.ok(globToRegExp('a/*').test('a/b'));
    assert.ok(!globToRegExp('a/*').test('a/b/c'));
    assert.ok(globToRegExp('a/**').test('a/b/c'));
    assert.ok(globToRegExp('a/**/z').test('a/z'));
    assert.ok(globToRegExp('a/**/z').test('a/b/c/z'));
    assert.ok(!globToRegExp('a.b').test('axb'));
  });

  test('anonymous: pull on public only', () => {
    assert.deepEqual([...policy.actions(null, 'public/app')], ['pull']);
    assert.deepEqual([...policy.actions(null, 'private/app')], []);
    assert.deepEqual([...policy.actions(null, 'shared/x')], []);
    assert.deepEqual([...policy.actions(null, 'elsewhere')], []);
  });

  test('users, groups and the default policy', () => {
    assert.deepEqual([...policy.actions('alice', 'private/app')].sort(), ['delete', 'pull', 'push']);
    assert.deepEqual([...policy.actions('bob', 'private/app')], []);
    assert.deepEqual([...policy.actions('bob', 'public/app')].sort(), ['delete', 'pull', 'push'], 'via group writers');
    assert.deepEqual([...policy.actions('carol', 'public/app')], ['pull'], 'anonymous rights hold for users too');
    assert.deepEqual([...policy.actions('carol', 'shared/x')], ['pull'], 'default policy: any authenticated user');
    assert.deepEqual([...policy.actions('carol', 'shared/x/y')], []);
  });

  test('the most specific glob wins', () => {
    const p = new Policy(
      configSchema.parse({
        auth: { accesscontrol: { repositories: { '**': { defaultpolicy: ['pull', 'push'] }, 'locked/**': { defaultpolicy: ['pull'] } } } },
      }).auth.accesscontrol!,
    );
    assert.deepEqual([...p.actions('x', 'any/thing')].sort(), ['pull', 'push']);
    assert.deepEqual([...p.actions('x', 'locked/thing')], ['pull']);
  });

  test('admin policy and catalog', () => {
    const p = new Policy(
      configSchema.parse({ auth: { accesscontrol: { adminpolicy: { users: ['root'], actions: ['read', 'create', 'delete'] }, catalog: { groups: ['ops'] }, groups: { ops: { users: ['dave'] } } } } })
        .auth.accesscontrol!,
    );
    assert.deepEqual([...p.actions('root', 'whatever/repo')].sort(), ['delete', 'pull', 'push'], 'zot aliases map to pull/push');
    assert.ok(p.mayListCatalog('root'));
    assert.ok(p.mayListCatalog('dave'));
    assert.ok(!p.mayListCatalog('erin'));
    assert.ok(!p.mayListCatalog(null));
  });

  test('grantable is the intersection of what is asked and what is allowed', () => {
    assert.deepEqual(
      policy.grantable('bob', [
        { type: 'repository', name: 'public/app', actions: ['pull', 'push'] },
        { type: 'repository', name: 'private/app', actions: ['pull'] },
        { type: 'registry', name: 'catalog', actions: ['*'] },
        { type: 'unknown', name: 'x', actions: ['pull'] },
      ]),
      [{ type: 'repository', name: 'public/app', actions: ['pull', 'push'] }],
    );
    assert.deepEqual(policy.grantable('alice', [{ type: 'registry', name: 'catalog', actions: ['*'] }]), [
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    assert.deepEqual(policy.grantable(null, [{ type: 'repository', name: 'public/app', actions: ['push', 'pull'] }]), [
      { type: 'repository', name: 'public/app', actions: ['pull'] },
    ]);
  });
});

describe('route access', () => {
  test('as Distribution maps it', () => {
    assert.deepEqual(accessForRoute('manifest', 'GET', 'a'), [{ type: 'repository', name: 'a', actions: ['pull'] }]);
    assert.deepEqual(accessForRoute('blob', 'HEAD', 'a'), [{ type: 'repository', name: 'a', actions: ['pull'] }]);
    for (const m of ['POST', 'PUT', 'PATCH']) assert.deepEqual(accessForRoute('upload', m, 'a'), [{ type: 'repository', name: 'a', actions: ['pull', 'push'] }]);
    assert.deepEqual(accessForRoute('manifest', 'DELETE', 'a'), [{ type: 'repository', name: 'a', actions: ['delete'] }]);
    assert.deepEqual(accessForRoute('tags', 'GET', 'a'), [{ type: 'repository', name: 'a', actions: ['pull'] }]);
    assert.deepEqual(accessForRoute('referrers', 'GET', 'a'), [{ type: 'repository', name: 'a', actions: ['pull'] }]);
    assert.deepEqual(accessForRoute('base', 'GET', ''), []);
    assert.deepEqual(accessForRoute('catalog', 'GET', ''), []);
  });
});

describe('auth configuration', () => {
  test('defaults: no auth; strict keys; key and certificate go together', () => {
    const c = configSchema.parse({});
    assert.equal(c.auth.token, undefined);
    assert.equal(c.auth.htpasswd, undefined);
    assert.throws(() => configSchema.parse({ auth: { tokne: {} } }), /tokne|Unrecognized/);
    assert.throws(() => configSchema.parse({ auth: { token: { server: { key: '/k' } } } }), /key and certificate go together/);
    assert.throws(() => configSchema.parse({ auth: { accesscontrol: { repositories: { a: { anonymouspolicy: ['write'] } } } } }));
    const t = configSchema.parse({ auth: { token: { server: { expiration: '10m' } } } }).auth.token!;
    assert.equal(t.server.expiration, 600_000);
    assert.equal(t.service, 'berth');
  });

  test('REGISTRY_AUTH_* environment overrides reach every auth key', async () => {
    const c = await loadConfig({
      env: {
        REGISTRY_AUTH_HTPASSWD_PATH: '/etc/berth/htpasswd',
        REGISTRY_AUTH_TOKEN_SERVICE: 'registry.example.com',
        REGISTRY_AUTH_TOKEN_SERVER_KEYTYPE: 'ec',
        REGISTRY_AUTH_TOKEN_SERVER_EXPIRATION: '15m',
        REGISTRY_AUTH_ACCESSCONTROL_REPOSITORIES: '{"public/**": {anonymouspolicy: [pull]}}',
        REGISTRY_AUTH_RATELIMIT_MAXFAILURES: '20',
      },
    });
    assert.equal(c.auth.htpasswd?.path, '/etc/berth/htpasswd');
    assert.equal(c.auth.token?.service, 'registry.example.com');
    assert.equal(c.auth.token?.server.keytype, 'ec');
    assert.equal(c.auth.token?.server.expiration, 900_000);
    assert.deepEqual(c.auth.accesscontrol?.repositories['public/**'].anonymouspolicy, ['pull']);
    assert.equal(c.auth.ratelimit.maxfailures, 20);
  });

  test('an external issuer needs a realm and trusted keys', () => {
    assert.throws(() => configSchema.parse({ auth: { token: { server: { enabled: false } } } }), /realm/);
  });
});
