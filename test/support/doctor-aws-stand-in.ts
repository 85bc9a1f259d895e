// The AWS APIs `slipway doctor` reads after `cdk deploy`, on loopback, as the real SDK clients
// speak them: CloudFormation and IAM (the query protocol: a form body, an XML answer), Service
// Quotas, ECR, SSM and Secrets Manager (JSON 1.1: X-Amz-Target), and Lambda (REST JSON).
// Lambda Invoke is passed on to `slipway up`'s server, which answers it for its planner as the
// deployed planner does. Every request is recorded for assertions.

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';

export interface DoctorAwsState {
  outputs: Record<string, string>;
  functions: Record<string, { role: string; env: Record<string, string> }>;
  /** `action resource` → decision, and optionally what denied it. */
  simulate: (action: string, resource: string) => { decision: string; boundaryDenies?: boolean };
  quotas: Record<string, number>;
  account: { concurrentExecutions: number; unreservedConcurrentExecutions: number };
  /** `repository:tag` → manifest. */
  images: Record<string, { mediaType: string; body: string }>;
  parameters: Record<string, string>;
  secrets: Record<string, string>;
  /** Where Lambda Invoke goes (the local server). */
  invokeUrl: string;
}

export interface RecordedAwsCall {
  service: string;
  action: string;
  input: Record<string, unknown>;
}

export interface DoctorAwsStandIn {
  url: string;
  calls: RecordedAwsCall[];
  /** The environment that sends every SDK client of the doctor here. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

const xml = (action: string, namespace: string, result: string) =>
  `<${action}Response xmlns="${namespace}"><${action}Result>${result}</${action}Result><ResponseMetadata><RequestId>stand-in</RequestId></ResponseMetadata></${action}Response>`;
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

async function body(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export async function startDoctorAwsStandIn(state: DoctorAwsState): Promise<DoctorAwsStandIn> {
  const calls: RecordedAwsCall[] = [];
  const send = (res: ServerResponse, status: number, text: string | Uint8Array, headers: Record<string, string>) => {
    res.writeHead(status, headers);
    res.end(text);
  };
  const json = (res: ServerResponse, status: number, value: unknown, type = 'application/x-amz-json-1.1', extra: Record<string, string> = {}) =>
    send(res, status, JSON.stringify(value), { 'content-type': type, ...extra });
  const notFound = (res: ServerResponse, type: string, message: string) => json(res, 400, { __type: type, message }, undefined, { 'x-amzn-errortype': type });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://stand-in');
    const raw = await body(req);
    const target = String(req.headers['x-amz-target'] ?? '');
    // Lambda, REST JSON.
    let m: RegExpExecArray | null;
    if ((m = /^\/2015-03-31\/functions\/([^/]+)\/configuration$/.exec(url.pathname))) {
      const name = decodeURIComponent(m[1]!);
      calls.push({ service: 'lambda', action: 'GetFunctionConfiguration', input: { FunctionName: name } });
      const fn = state.functions[name];
      if (!fn) return json(res, 404, { Type: 'User', message: `Function not found: ${name}` }, 'application/json', { 'x-amzn-errortype': 'ResourceNotFoundException' });
      return json(res, 200, { FunctionName: name, Role: fn.role, Environment: { Variables: fn.env } }, 'application/json');
    }
    if (/^\/2016-08-19\/account-settings\/?$/.test(url.pathname)) {
      calls.push({ service: 'lambda', action: 'GetAccountSettings', input: {} });
      return json(res, 200, { AccountLimit: { ConcurrentExecutions: state.account.concurrentExecutions, UnreservedConcurrentExecutions: state.account.unreservedConcurrentExecutions } }, 'application/json');
    }
    if ((m = /^\/2015-03-31\/functions\/([^/]+)\/invocations$/.exec(url.pathname))) {
      const name = decodeURIComponent(m[1]!);
      calls.push({ service: 'lambda', action: 'Invoke', input: { FunctionName: name, Payload: JSON.parse(raw.toString('utf8') || 'null') } });
      // The deployed planner's name maps to the local one.
      const local = name === state.outputs.PlannerFunctionName ? 'planner' : name;
      const answer = await fetch(`${state.invokeUrl}/2015-03-31/functions/${encodeURIComponent(local)}/invocations`, {
        method: 'POST',
        headers: { authorization: String(req.headers.authorization ?? ''), 'content-type': 'application/json' },
        body: raw.toString('utf8'),
      });
      const headers: Record<string, string> = {};
      answer.headers.forEach((v, k) => void (headers[k] = v));
      delete headers['content-length'];
      delete headers['transfer-encoding'];
      return send(res, answer.status, new Uint8Array(await answer.arrayBuffer()), headers);
    }
    // JSON 1.1 services.
    if (target) {
      const input = JSON.parse(raw.toString('utf8') || '{}') as Record<string, any>;
      const [service, action] = target.split('.') as [string, string];
      calls.push({ service, action, input });
      switch (target) {
        case 'ServiceQuotasV20190624.GetServiceQuota': {
          const value = state.quotas[`${input.ServiceCode}/${input.QuotaCode}`];
          if (value === undefined) return notFound(res, 'NoSuchResourceException', `no quota ${input.ServiceCode}/${input.QuotaCode}`);
          return json(res, 200, { Quota: { ServiceCode: input.ServiceCode, QuotaCode: input.QuotaCode, Value: value } });
        }
        case 'AmazonEC2ContainerRegistry_V20150921.BatchGetImage': {
          const id = input.imageIds[0] as { imageTag?: string; imageDigest?: string };
          const key = `${input.repositoryName}:${id.imageTag ?? id.imageDigest}`;
          const image = state.images[key];
          if (!image) return json(res, 200, { images: [], failures: [{ imageId: id, failureCode: 'ImageNotFound', failureReason: 'Requested image not found' }] });
          return json(res, 200, { images: [{ registryId: input.registryId, repositoryName: input.repositoryName, imageId: id, imageManifest: image.body, imageManifestMediaType: image.mediaType }], failures: [] });
        }
        case 'AmazonEC2ContainerRegistry_V20150921.ListImages': {
          // Tagged images only (the doctor asks for TAGGED), each image's digest that of its manifest, one page.
          if (input.filter?.tagStatus !== 'TAGGED') return json(res, 400, { __type: 'InvalidParameterException', message: 'this stand-in lists tagged images only' });
          const prefix = `${input.repositoryName}:`;
          const imageIds = Object.entries(state.images)
            .filter(([key]) => key.startsWith(prefix) && !key.slice(prefix.length).startsWith('sha256:'))
            .map(([key, image]) => ({ imageTag: key.slice(prefix.length), imageDigest: `sha256:${createHash('sha256').update(image.body).digest('hex')}` }));
          return json(res, 200, { imageIds });
        }
        case 'AmazonSSM.GetParameter': {
          const value = state.parameters[input.Name];
          if (value === undefined) return notFound(res, 'ParameterNotFound', '');
          return json(res, 200, { Parameter: { Name: input.Name, Type: 'SecureString', Value: value, Version: 1 } });
        }
        case 'secretsmanager.GetSecretValue': {
          const value = state.secrets[input.SecretId];
          if (value === undefined) return notFound(res, 'ResourceNotFoundException', "Secrets Manager can't find the specified secret.");
          return json(res, 200, { ARN: input.SecretId, Name: 'api-token', SecretString: value });
        }
        default:
          return notFound(res, 'UnknownOperationException', `the stand-in does not answer ${target}`);
      }
    }
    // The query protocol: CloudFormation and IAM.
    const form = new URLSearchParams(raw.toString('utf8'));
    const action = form.get('Action') ?? '';
    calls.push({ service: action === 'DescribeStacks' ? 'cloudformation' : 'iam', action, input: Object.fromEntries(form) });
    if (action === 'DescribeStacks') {
      const outputs = Object.entries(state.outputs)
        .map(([k, v]) => `<member><OutputKey>${esc(k)}</OutputKey><OutputValue>${esc(v)}</OutputValue></member>`)
        .join('');
      const stack = `<member><StackName>${esc(form.get('StackName') ?? '')}</StackName><StackId>arn:aws:cloudformation:us-east-1:123456789012:stack/x/1</StackId><CreationTime>2026-01-01T00:00:00Z</CreationTime><StackStatus>CREATE_COMPLETE</StackStatus><Outputs>${outputs}</Outputs></member>`;
      return send(res, 200, xml('DescribeStacks', 'http://cloudformation.amazonaws.com/doc/2010-05-15/', `<Stacks>${stack}</Stacks>`), { 'content-type': 'text/xml' });
    }
    if (action === 'SimulatePrincipalPolicy') {
      const actions = [...form.entries()].filter(([k]) => k.startsWith('ActionNames.member.')).map(([, v]) => v);
      const resources = [...form.entries()].filter(([k]) => k.startsWith('ResourceArns.member.')).map(([, v]) => v);
      const members = actions.flatMap((a) =>
        resources.map((r) => {
          const { decision, boundaryDenies } = state.simulate(a, r);
          const boundary = boundaryDenies ? '<PermissionsBoundaryDecisionDetail><AllowedByPermissionsBoundary>false</AllowedByPermissionsBoundary></PermissionsBoundaryDecisionDetail>' : '';
          return `<member><EvalActionName>${esc(a)}</EvalActionName><EvalResourceName>${esc(r)}</EvalResourceName><EvalDecision>${decision}</EvalDecision>${boundary}</member>`;
        }),
      );
      return send(res, 200, xml('SimulatePrincipalPolicy', 'https://iam.amazonaws.com/doc/2010-05-08/', `<IsTruncated>false</IsTruncated><EvaluationResults>${members.join('')}</EvaluationResults>`), { 'content-type': 'text/xml' });
    }
    return send(res, 400, `<ErrorResponse><Error><Type>Sender</Type><Code>InvalidAction</Code><Message>${esc(action)}</Message></Error></ErrorResponse>`, { 'content-type': 'text/xml' });
  }

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => send(res, 500, JSON.stringify({ message: String(err) }), { 'content-type': 'application/json' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('doctor-aws-stand-in: no address');
  const url = `http://127.0.0.1:${address.port}`;
  return {
    url,
    calls,
    env: Object.fromEntries(['CLOUDFORMATION', 'IAM', 'SERVICE_QUOTAS', 'LAMBDA', 'ECR', 'SSM', 'SECRETS_MANAGER'].map((s) => [`AWS_ENDPOINT_URL_${s}`, url])),
    stop: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}
