// ECR's rule for a repository name, stricter than Docker's for a path: one `.`, `_` or `-`
// between lower-case letters and digits (Docker also takes `__` and `--`), at most 256
// characters (https://docs.aws.amazon.com/AmazonECR/latest/APIReference/API_CreateRepository.html,
// repositoryName). Pure.

const ECR_REPOSITORY_NAME = /^(?:[a-z0-9]+(?:[._-][a-z0-9]+)*\/)*[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const MAX_LENGTH = 256;

export function isEcrRepositoryName(name: string): boolean {
  return name.length <= MAX_LENGTH && ECR_REPOSITORY_NAME.test(name);
}
