// Task definitions: revisions numbered per family, looked up by family, family:revision or ARN.
import type { RegisterTaskDefinitionRequest } from '@aws-sdk/client-ecs';
import { clientError } from './errors.js';
import { validateTaskDefinition } from './validate.js';

export interface TaskDefinitionRecord {
  arn: string;
  family: string;
  revision: number;
  registeredAt: Date;
  input: RegisterTaskDefinitionRequest;
}

export class TaskDefinitionRegistry {
  private readonly families = new Map<string, TaskDefinitionRecord[]>();

  constructor(private readonly arnPrefix: string) {}

  register(input: RegisterTaskDefinitionRequest): TaskDefinitionRecord {
    validateTaskDefinition(input);
    const family = input.family!;
    const revisions = this.families.get(family) ?? [];
    const revision = revisions.length + 1;
    const record: TaskDefinitionRecord = {
      arn: `${this.arnPrefix}:task-definition/${family}:${revision}`,
      family,
      revision,
      registeredAt: new Date(),
      // A deep copy: a caller reusing its request object must not change a registered revision.
      input: structuredClone(input),
    };
    revisions.push(record);
    this.families.set(family, revisions);
    return record;
  }

  /** `family` (latest), `family:3`, or the full ARN. */
  resolve(reference: string | undefined): TaskDefinitionRecord {
    if (!reference) throw clientError('TaskDefinition should not be null or empty.');
    const name = reference.includes(':task-definition/') ? reference.split(':task-definition/')[1]! : reference;
    const [family, revisionText] = name.split(':');
    const revisions = this.families.get(family ?? '') ?? [];
    const record = revisionText === undefined ? revisions[revisions.length - 1] : revisions[Number(revisionText) - 1];
    if (!record) throw clientError(`Unable to describe task definition: '${reference}' is not registered`);
    return record;
  }
}
