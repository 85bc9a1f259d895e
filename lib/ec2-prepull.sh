#!/bin/bash
# Slipway EC2 build instances: pull the common images of recent builds ahead, once per
# instance, so that the first build placed here finds them cached
# (ECS_IMAGE_PULL_BEHAVIOR=prefer-cached uses a local image instead of pulling it again).
#
# lib/ec2-capacity.ts installs this file as /usr/local/bin/slipway-prepull with a systemd unit
# (Type=simple, started without blocking from the user data, and at every boot): it never
# delays the ECS agent, which the ECS-optimized AMI starts after cloud-init's final stage
# (ecs.service: After=cloud-final.service, aws/amazon-ecs-agent
# packaging/amazon-linux-ami-integrated/ecs.service).
#
# What it does, by the instance's Auto Scaling target lifecycle state (instance metadata
# autoscaling/target-lifecycle-state,
# https://docs.aws.amazon.com/autoscaling/ec2/userguide/retrieving-target-lifecycle-state-through-imds.html):
# - Warmed:* (launching into the warm pool): pull, then complete the launch lifecycle action,
#   after which Auto Scaling stops the instance: it waits in the pool with the images on its
#   disk. Without the hook Auto Scaling would stop it as soon as it launched, whatever the
#   user data was still doing (warm-pool-instance-lifecycle.html).
# - InService after such a pull (a start from the warm pool): complete the action at once.
# - InService at its first boot (launched straight into service): complete the action at
#   once, then pull in the background while the agent registers; a build placed meanwhile
#   pulls what it needs itself (Docker shares the layers of concurrent pulls).
#
# Bounds: at most SLIPWAY_PREPULL_MAX_IMAGES references, SLIPWAY_PREPULL_PARALLEL pulls at a
# time, all within SLIPWAY_PREPULL_DEADLINE_SECONDS, and none started once the disk holding
# Docker's data is SLIPWAY_PREPULL_MAX_DISK_PERCENT full (the builds need the rest). A pull
# that fails is logged and skipped: this is an optimisation, never a reason to fail a boot.
# The list is the architecture's SSM parameter, written by the autoscaler
# (lambdas/autoscaler/prepull.ts), one reference a line; ECR is logged in to with the instance
# role (ecr:GetAuthorizationToken, as the ECS agent does without a task execution role), with
# the credentials in a temporary Docker config that is removed afterwards. The agent's image
# cleanup leaves images it did not pull alone ("the agent tracks what it pulls and only deletes
# those ... to avoid deleting something that was intentionally pulled there to cache",
# aws/amazon-ecs-agent#1380; ECS_ENABLE_UNTRACKED_IMAGE_CLEANUP stays off).
set -u -o pipefail

PARAMETER=${SLIPWAY_PREPULL_PARAMETER:?the SSM parameter of the list}
REGION=${SLIPWAY_PREPULL_REGION:?the AWS Region}
REGISTRY=${SLIPWAY_PREPULL_REGISTRY:?the ECR registry to log in to}
DEADLINE=${SLIPWAY_PREPULL_DEADLINE_SECONDS:-600}
PARALLEL=${SLIPWAY_PREPULL_PARALLEL:-3}
MAX_IMAGES=${SLIPWAY_PREPULL_MAX_IMAGES:-16}
DISK_PATH=${SLIPWAY_PREPULL_DISK_PATH:-/var/lib/docker}
MAX_DISK_PERCENT=${SLIPWAY_PREPULL_MAX_DISK_PERCENT:-60}
HOOK=${SLIPWAY_PREPULL_LIFECYCLE_HOOK:-}
GROUP=${SLIPWAY_PREPULL_GROUP:-}
IMDS=${SLIPWAY_PREPULL_IMDS:-http://169.254.169.254}
STATE_DIR=${SLIPWAY_PREPULL_STATE_DIR:-/var/lib/slipway-prepull}

started=$(date +%s)
log() { echo "slipway-prepull: $*" >&2; }
left() { echo $((DEADLINE - ($(date +%s) - started))); }

# IMDSv2 (the launch template requires it): a session token, then the items.
token=$(curl -sf -X PUT "$IMDS/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' --max-time 2) || token=''
imds() { curl -sf -H "X-aws-ec2-metadata-token: $token" --max-time 2 "$IMDS/latest/meta-data/$1"; }
instance_id=$(imds instance-id) || instance_id=''
target=$(imds autoscaling/target-lifecycle-state) || target=''

# The ECS-optimized Amazon Linux 2023 AMI is built on the minimal AMI, without the AWS CLI
# (aws/amazon-ecs-ami variables.pkr.hcl, packages_al2023). Its repositories are S3 buckets that
# /etc/yum.repos.d/amazonlinux.repo names at the dual-stack S3 host
# (mirrorlist=https://al2023-repos-$awsregion-de612dc2.s3$dualstack.$awsregion.$awsdomain/…);
# an empty `dualstack` makes it the regional host, which the S3 gateway endpoint of private
# subnets routes (https://docs.aws.amazon.com/vpc/latest/privatelink/vpc-endpoints-s3.html),
# and which works from public subnets alike.
ensure_aws() {
  command -v aws >/dev/null 2>&1 && return 0
  log "installing the AWS CLI (awscli-2)"
  DNF_VAR_dualstack='' timeout "$(($(left) > 0 ? $(left) : 1))" dnf install -y -q awscli-2 >/dev/null 2>&1 || { log "could not install the AWS CLI: nothing is pulled ahead"; return 1; }
}

completed=0
complete_hook() {
  [[ $completed == 1 || -z $HOOK || -z $GROUP || -z $instance_id ]] && return 0
  completed=1
  aws autoscaling complete-lifecycle-action --region "$REGION" --lifecycle-hook-name "$HOOK" --auto-scaling-group-name "$GROUP" \
    --instance-id "$instance_id" --lifecycle-action-result CONTINUE >/dev/null ||
    log "could not complete the lifecycle action $HOOK: Auto Scaling continues after the hook's timeout"
}

disk_used() { df --output=pcent "$DISK_PATH" 2>/dev/null | tail -n 1 | tr -dc '0-9'; }

pull_one() {
  local image=$1 budget used
  budget=$(left)
  if ((budget <= 0)); then
    log "deadline of ${DEADLINE}s reached: not pulled $image"
    return 0
  fi
  used=$(disk_used)
  if [[ -n $used ]] && ((used >= MAX_DISK_PERCENT)); then
    log "disk $DISK_PATH ${used}% used (limit ${MAX_DISK_PERCENT}%): not pulled $image"
    return 0
  fi
  if timeout "$budget" docker pull --quiet "$image" >/dev/null 2>&1; then
    log "pulled $image"
  else
    log "could not pull $image (exit $?): a build that needs it pulls it itself"
  fi
}

prepull() {
  local raw line images=() skipped=0
  raw=$(aws ssm get-parameter --region "$REGION" --name "$PARAMETER" --query Parameter.Value --output text) || {
    log "could not read the list $PARAMETER"
    return 1
  }
  while IFS= read -r line; do
    [[ -z $line ]] && continue
    # One reference a line, nothing docker or a shell could read as more (core/scaling/common-images.ts).
    if [[ ! $line =~ ^[a-z0-9][A-Za-z0-9._/:@-]*$ || ${#line} -gt 512 ]]; then
      log "not an image reference, skipped: ${line:0:80}"
      continue
    fi
    if ((${#images[@]} >= MAX_IMAGES)); then
      skipped=$((skipped + 1))
      continue
    fi
    images+=("$line")
  done <<<"$raw"
  ((skipped > 0)) && log "$skipped references past the first $MAX_IMAGES skipped"

  for _ in $(seq 1 60); do docker info >/dev/null 2>&1 && break; sleep 1; done
  DOCKER_CONFIG=$(mktemp -d)
  export DOCKER_CONFIG
  trap 'rm -rf "$DOCKER_CONFIG"' EXIT
  aws ecr get-login-password --region "$REGION" | docker login --username AWS --password-stdin "$REGISTRY" >/dev/null 2>&1 ||
    log "could not log in to $REGISTRY: its images will not pull"

  local image
  for image in "${images[@]}"; do
    while (($(jobs -rp | wc -l) >= PARALLEL)); do wait -n; done
    pull_one "$image" &
  done
  wait
  log "done: ${#images[@]} images in $(($(date +%s) - started))s"
}

if [[ -f $STATE_DIR/pulled ]]; then
  # A start from the warm pool: the images are already here.
  ensure_aws && complete_hook
  exit 0
fi
ensure_aws || exit 0
case $target in
  Warmed:*)
    prepull
    mkdir -p "$STATE_DIR" && touch "$STATE_DIR/pulled"
    complete_hook
    ;;
  *)
    complete_hook
    prepull
    mkdir -p "$STATE_DIR" && touch "$STATE_DIR/pulled"
    ;;
esac
exit 0
