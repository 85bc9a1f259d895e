// Synthesizes a Slipway stack (once per test file) with cdk-nag's AwsSolutions checks and
// returns the template plus cdk-nag's unacknowledged findings.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { LAMBDA_NAMES, type LambdaName, defaultEntries } from '../../lib/functions.js';
import { PROJECT_ROOT, type SlipwayProps, SlipwayStack } from '../../lib/slipway.js';

export const FIXTURES = join(PROJECT_ROOT, 'test', 'cdk', 'fixtures');

export function fixtureEntries(): Record<LambdaName, string> {
  return Object.fromEntries(LAMBDA_NAMES.map((n) => [n, join(FIXTURES, 'lambdas', n, 'handler.ts')])) as Record<LambdaName, string>;
}

/** Props pointing every input at the test fixtures (real handlers, a Dockerfile, a dashboard build). */
export function fixtureProps(overrides: SlipwayProps = {}): SlipwayProps {
  return {
    entries: fixtureEntries(),
    agentImage: { directory: join(FIXTURES, 'task-runner') },
    dashboardDir: join(FIXTURES, 'web-dist'),
    ...overrides,
  };
}

/** The project's own Lambda entries, when every one of them exists. */
export function realEntriesPresent(): boolean {
  return Object.values(defaultEntries(PROJECT_ROOT)).every((entry) => existsSync(entry));
}

export interface NagFinding {
  readonly rule: string;
  readonly severity: string;
  readonly paths: string[];
}

export interface SynthOptions {
  /** Run cdk-nag (default true). */
  readonly nag?: boolean;
  /** Run esbuild for the Lambdas (default true); false uses CDK's placeholder assets. */
  readonly bundle?: boolean;
  /** CDK's built-in CloudFormation schema validation (default true). */
  readonly validate?: boolean;
  /** Changes the stack before synth, as an app extending the construct would. */
  readonly customize?: (stack: SlipwayStack) => void;
}

export interface Synthesized {
  readonly app: App;
  readonly stack: SlipwayStack;
  readonly template: Template;
  readonly json: { Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; [k: string]: unknown }>; Outputs?: Record<string, unknown> };
  readonly findings: NagFinding[];
  /** The synth error, if validation stopped it. */
  readonly error: Error | undefined;
  readonly outdir: string;
  readonly cleanup: () => void;
}

export function synthSlipway(props: SlipwayProps, options: SynthOptions = {}): Synthesized {
  const outdir = mkdtempSync(join(tmpdir(), 'slipway-cdk-'));
  const app = new App({
    outdir,
    builtinCloudFormationValidation: options.validate !== false,
    context: options.bundle === false ? { 'aws:cdk:bundling-stacks': [] } : {},
  });
  const stack = new SlipwayStack(app, 'SlipwayTest', { slipway: props });
  options.customize?.(stack);
  if (options.nag !== false) Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  let error: Error | undefined;
  try {
    app.synth();
  } catch (e) {
    error = e as Error;
  }
  const json = JSON.parse(readFileSync(join(outdir, `${stack.artifactId}.template.json`), 'utf8')) as Synthesized['json'];
  return {
    app,
    stack,
    template: Template.fromJSON(json),
    json,
    findings: readFindings(outdir),
    error,
    outdir,
    cleanup: () => rmSync(outdir, { recursive: true, force: true }),
  };
}

interface Report {
  pluginReports: { pluginName: string; violations: { ruleName: string; severity: string; violatingConstructs: { constructPath: string }[] }[] }[];
}

function readFindings(outdir: string): NagFinding[] {
  const file = join(outdir, 'validation-report.json');
  if (!existsSync(file)) return [];
  const report = JSON.parse(readFileSync(file, 'utf8')) as Report;
  return report.pluginReports.flatMap((plugin) =>
    plugin.violations.map((v) => ({ rule: v.ruleName, severity: v.severity, paths: v.violatingConstructs.map((c) => c.constructPath) })),
  );
}

type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Condition?: Record<string, unknown>; Sid?: string };

/** Every IAM statement of the template, with the logical id of the policy or role holding it. */
export function iamStatements(json: Synthesized['json']): { owner: string; statement: Statement }[] {
  const out: { owner: string; statement: Statement }[] = [];
  for (const [id, resource] of Object.entries(json.Resources)) {
    const props = resource.Properties ?? {};
    if (resource.Type === 'AWS::IAM::Policy' || resource.Type === 'AWS::IAM::ManagedPolicy') {
      for (const s of (props.PolicyDocument as { Statement: Statement[] }).Statement) out.push({ owner: id, statement: s });
    }
    if (resource.Type === 'AWS::IAM::Role') {
      for (const p of (props.Policies as { PolicyDocument: { Statement: Statement[] } }[] | undefined) ?? []) {
        for (const s of p.PolicyDocument.Statement) out.push({ owner: id, statement: s });
      }
    }
  }
  return out;
}

export const asList = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Logical ids of the resources of a type whose logical id starts with a prefix. */
export function logicalIds(json: Synthesized['json'], type: string, prefix = ''): string[] {
  return Object.entries(json.Resources)
    .filter(([id, r]) => r.Type === type && id.startsWith(prefix))
    .map(([id]) => id);
}

/** The logical-id prefix of each function's resources (its construct's path in the stack). */
const FUNCTION_IDS: Record<LambdaName, string> = {
  webhook: 'SlipwayFunctionsWebhook',
  planner: 'SlipwayFunctionsPlanner',
  autoscaler: 'SlipwayFunctionsAutoscaler',
  'task-events': 'SlipwayFunctionsTaskEvents',
  api: 'SlipwayFunctionsApi',
  prices: 'SlipwayFunctionsPrices',
};

/** A Lambda's AWS::Lambda::Function in the template: its logical id and properties. */
export function lambdaFunction(json: Synthesized['json'], name: LambdaName): { id: string; props: Record<string, any> } {
  const id = logicalIds(json, 'AWS::Lambda::Function', FUNCTION_IDS[name]).find((i) => !i.includes('Role'));
  if (!id) throw new Error(`no function for ${name} in the template (no AWS::Lambda::Function id starting ${FUNCTION_IDS[name]})`);
  return { id, props: json.Resources[id]!.Properties as Record<string, any> };
}
