// The doctor's hello-world build: one step that echoes, with no clone (it tests the control
// plane and Fargate, not a repository). It runs as a build of a repository of its own, so
// it never mixes with a team's builds and its history shows every doctor run.

export const HELLO_REPO = 'slipway-doctor/hello';

/** What the step prints: the doctor finds it in the step's log. */
export const HELLO_GREETING = 'hello from slipway doctor';

// An image from ECR Public: no Docker Hub pull limit, no login.
export const HELLO_IMAGE = 'public.ecr.aws/docker/library/busybox:1.36';

export const HELLO_PIPELINE = `kind: pipeline
type: docker
name: hello

clone:
  disable: true

steps:
  - name: hello
    image: ${HELLO_IMAGE}
    commands:
      - echo ${HELLO_GREETING}
`;
