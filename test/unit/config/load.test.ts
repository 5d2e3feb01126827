import { ConfigFileError, parseConfig } from '../../../src/config/load';

const ENV = { HUBSPOT_ACCESS_TOKEN: 'pat-123', MAILCHIMP_API_KEY: 'k-us1', KLAVIYO_API_KEY: 'pk_1' };

const VALID = `version: 1
fields:
  first_name: { type: string }
  plan: { type: enum, options: [free, pro] }
connectors:
  hubspot:
    accessToken: \${HUBSPOT_ACCESS_TOKEN}
    baseUrl: http://127.0.0.1:4101
mappings:
  hubspot:
    - { local: first_name, remote: firstname }
segments:
  vip:
    rule: 'count("Placed Order") >= 2'
    push:
      - { esp: hubspot }
`;

function issuesOf(text: string, env: Record<string, string> = ENV): { line?: number; column?: number; message: string; hint?: string }[] {
  try {
    parseConfig(text, 'segsync.yaml', { env });
  } catch (err) {
    if (err instanceof ConfigFileError) return err.issues.map((i) => ({ line: i.location.line, column: i.location.column, message: i.message, hint: i.hint }));
    throw err;
  }
  throw new Error('expected the config to be refused');
}

describe('config loading', () => {
  it('accepts a valid file, fills defaults and resolves secrets from the environment', () => {
    const { config } = parseConfig(VALID, 'segsync.yaml', { env: ENV });
    expect(config.connectors.hubspot?.accessToken).toBe('pat-123');
    expect(config.connectors.hubspot?.tier).toBe('free');
    expect(config.fields.first_name).toEqual({ type: 'string', owner: 'local', conflict: 'owner' });
    expect(config.mappings.hubspot?.[0]?.direction).toBe('both');
    expect(config.store.path).toBe('.segsync/segsync.db');
  });

  it('locates an unknown key at its line and column', () => {
    const [issue] = issuesOf(VALID.replace('    baseUrl: http://127.0.0.1:4101', '    baseUrl: http://127.0.0.1:4101\n    colour: blue'));
    expect(issue).toMatchObject({ line: 9, column: 5, message: 'unknown key "colour" in connectors.hubspot' });
  });

  it('locates a value of the wrong type', () => {
    const [issue] = issuesOf(VALID.replace('  plan: { type: enum, options: [free, pro] }', '  plan: { type: enum, options: free }'));
    expect(issue).toMatchObject({ line: 4, message: expect.stringMatching(/^fields\.plan\.options: .*expected array/) });
    expect(issue!.column).toBeGreaterThan(1);
  });

  it('locates a missing required field at the object that lacks it', () => {
    const [issue] = issuesOf(VALID.replace('    rule: \'count("Placed Order") >= 2\'\n', ''));
    expect(issue).toMatchObject({ line: 14, message: 'missing required "rule" in segments.vip', hint: 'add "rule:"' });
  });

  it('refuses a literal secret and says how to reference the environment instead', () => {
    const [issue] = issuesOf(VALID.replace('${HUBSPOT_ACCESS_TOKEN}', 'pat-na1-abcdef'));
    expect(issue).toMatchObject({ line: 7, column: 18, message: '"accessToken" holds a literal secret' });
    expect(issue!.hint).toContain('${HUBSPOT_ACCESS_TOKEN}');
  });

  it('names an unknown ESP and lists the supported ones', () => {
    const issues = issuesOf(VALID.replace('connectors:\n', 'connectors:\n  sendgrid:\n    apiKey: ${SG}\n'));
    expect(issues[0]).toMatchObject({
      line: 6,
      column: 3,
      message: 'unknown ESP "sendgrid" in connectors',
      hint: 'segsync supports hubspot, mailchimp, klaviyo',
    });
  });

  it('refuses a mapping to an undeclared field and suggests the close one', () => {
    const [issue] = issuesOf(VALID.replace('local: first_name, remote', 'local: firstname, remote'));
    expect(issue).toMatchObject({
      line: 11,
      message: 'mapping hubspot[0] refers to unknown field "firstname"',
      hint: expect.stringContaining('did you mean "first_name"'),
    });
  });

  it('reports an unset environment variable where it is referenced', () => {
    const [issue] = issuesOf(VALID, {});
    expect(issue).toMatchObject({ line: 7, message: 'environment variable HUBSPOT_ACCESS_TOKEN (for connectors.hubspot.accessToken) is not set' });
  });

  it('leaves ESP secrets unresolved, and does not ask for them, when a command never calls an ESP', () => {
    const { config } = parseConfig(VALID, 'segsync.yaml', { env: {}, secrets: { connectors: false, daemon: false } });
    expect(config.connectors.hubspot?.accessToken).toBe('${HUBSPOT_ACCESS_TOKEN}');
  });

  it('reports YAML syntax errors with their position', () => {
    const [issue] = issuesOf('version: 1\nfields:\n  a: { type: string\n');
    expect(issue!.message).toMatch(/^YAML syntax/);
    expect(issue!.line).toBeGreaterThanOrEqual(3);
  });

  it('reports every problem at once, in file order', () => {
    const text = VALID.replace('${HUBSPOT_ACCESS_TOKEN}', 'literal').replace('local: first_name, remote', 'local: nope, remote');
    const issues = issuesOf(text);
    expect(issues.map((i) => i.line)).toEqual([7, 11]);
    const both = issuesOf(VALID.replace('version: 1', 'version: 1\nbogus: 1').replace('${HUBSPOT_ACCESS_TOKEN}', 'literal'));
    expect(both.map((i) => i.line)).toEqual([2, 8]);
  });

  it('refuses pushes to an ESP that has no connector section', () => {
    const [issue] = issuesOf(VALID.replace('      - { esp: hubspot }', '      - { esp: klaviyo }'));
    expect(issue).toMatchObject({ line: 16, message: 'segment "vip" pushes to klaviyo, which is not under connectors' });
  });
});
