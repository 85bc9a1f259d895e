// SLIPWAY_IMAGE_PUSH_REPOSITORIES (local/push-rights.ts): local mode's imagePushRepositories,
// read strictly; each listed repository gets a role of its own for the planner, and that role,
// and no other, carries the registry's login and the names it may push to.
import { describe, expect, it } from 'vitest';
import { pushRightsLine } from '../../cli/commands/up.js';
import { ENV } from '../../core/config/lambda-env.js';
import { localPushRights, localPushRoleArn, parsePushRepositories } from '../../local/push-rights.js';

describe('local push rights', () => {
  it('reads the setting in the shape of imagePushRepositories; unset or empty lists nothing', () => {
    expect(parsePushRepositories(undefined)).toEqual({});
    expect(parsePushRepositories(' ')).toEqual({});
    expect(parsePushRepositories('{"local/app": ["team/app", "team/app-tools"], "acme/api": []}')).toEqual({ 'local/app': ['team/app', 'team/app-tools'], 'acme/api': [] });
  });

  it.each([
    ['{"local/app": ', 'SLIPWAY_IMAGE_PUSH_REPOSITORIES is not JSON'],
    ['["local/app"]', 'expected {"owner/name": ["team/app", …]}'],
    ['{"app": ["team/app"]}', '"app" is not owner/name'],
    ['{"local/app": "team/app"}', 'SLIPWAY_IMAGE_PUSH_REPOSITORIES["local/app"]: "team/app"; expected a list of registry repository names'],
    ['{"local/app": ["Team/App"]}', 'expected a list of registry repository names (lower case'],
    ['{"local/app": ["team/app:1.0"]}', 'expected a list of registry repository names'],
  ])('refuses %s, saying %s', (raw, message) => {
    expect(() => parsePushRepositories(raw)).toThrow(message);
  });

  it("gives the planner each listed repository's role, and that role alone the login and its names", () => {
    const login = { username: 'slipway', password: 'p'.repeat(32) };
    const rights = localPushRights({ 'local/app': ['team/app'] }, { registries: ['127.0.0.1:5000', 'host.slipway.internal:5000'], login }, '000000000000');
    const role = localPushRoleArn('000000000000', 'local/app');
    expect(role).toBe('arn:aws:iam::000000000000:role/slipway-image-push/local/app');
    expect(JSON.parse(rights.plannerEnv[ENV.imageBuilds]!)).toEqual({ 'local/app': { taskRoleArn: role, pushRepositories: ['team/app'], cacheRepository: '' } });
    expect(rights.grant(role)).toEqual({ registries: ['127.0.0.1:5000', 'host.slipway.internal:5000'], ...login, repositories: ['team/app'] });
    expect(rights.grant(localPushRoleArn('000000000000', 'other/app'))).toBeUndefined();
    expect(rights.grant('arn:aws:iam::000000000000:role/slipway-build-task')).toBeUndefined();
    expect(localPushRights({}, { registries: [], login }, '000000000000').plannerEnv).toEqual({});
  });

  it("says in slipway up's banner who may push, or how to allow a repository", () => {
    expect(pushRightsLine({ 'local/app': ['team/app', 'team/tool'] })).toBe('Builds that may push there: local/app → team/app, team/tool (SLIPWAY_IMAGE_PUSH_REPOSITORIES).');
    expect(pushRightsLine({})).toContain(`SLIPWAY_IMAGE_PUSH_REPOSITORIES='{"local/app":["team/app"]}' lets local/app push to team/app`);
  });
});
