// A BuildContext for tests: a push to main of octocat/hello-world on GitHub (the repository of
// GitHub's own webhook examples), with what a test names changed. The repository, the commit
// (and its author) and the build are merged field by field; anything else is replaced.

import type { BuildContext, CommitInfo, RepoInfo } from '../../core/pipeline/context.js';

export interface ContextChanges extends Partial<Omit<BuildContext, 'repo' | 'commit' | 'build'>> {
  repo?: Partial<RepoInfo>;
  commit?: Partial<Omit<CommitInfo, 'author'>> & { author?: Partial<CommitInfo['author']> };
  build?: Partial<BuildContext['build']>;
}

export function helloWorldContext(changes: ContextChanges = {}): BuildContext {
  const { repo, commit, build, ...rest } = changes;
  const { author, ...commitFields } = commit ?? {};
  return {
    repo: {
      slug: 'octocat/hello-world',
      owner: 'octocat',
      name: 'hello-world',
      scm: 'github',
      httpUrl: 'https://github.com/octocat/hello-world.git',
      link: 'https://github.com/octocat/hello-world',
      defaultBranch: 'main',
      private: false,
      visibility: 'public',
      ...repo,
    },
    commit: {
      sha: 'a'.repeat(40),
      ref: 'refs/heads/main',
      branch: 'main',
      message: 'm',
      link: '',
      ...commitFields,
      author: { login: 'octocat', name: 'The Octocat', email: 'o@example.com', avatar: '', ...author },
    },
    build: { number: 1, event: 'push', action: '', created: 1700000000, link: '', trigger: '@hook', ...build },
    system: { host: 'ci.example.com', proto: 'https', version: '0.1.0' },
    ...rest,
  };
}
