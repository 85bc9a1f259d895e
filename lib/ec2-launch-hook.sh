#!/bin/bash
# Slipway EC2 build instances of a group with a warm pool, when nothing is pulled ahead:
# complete this instance's launch lifecycle action once the user data has done its work.
#
# Auto Scaling stops an instance as soon as it has launched into a warm pool and "does not wait
# for user data to finish running"; a launch lifecycle hook keeps it in Warmed:Pending:Wait until
# CompleteLifecycleAction, and the same hook pauses it again in Pending:Wait each time it is
# started from the pool (https://docs.aws.amazon.com/autoscaling/ec2/userguide/warm-pool-instance-lifecycle.html).
# lib/ec2-capacity.ts installs this file as /usr/local/bin/slipway-launch-hook with a systemd
# unit enabled for every boot and started, without waiting, by the last line of the user data:
# at the first boot every line before it (the ECS agent's settings) has run; at a start from the
# pool nothing is left to wait for. With prepull on, lib/ec2-prepull.sh completes the hook instead.
#
# The ECS-optimized Amazon Linux 2023 AMI has no AWS CLI; it is installed from the distribution's
# repositories, buckets in S3. dnf is asked for the regional S3 host, not the dual-stack one the
# repository file names (`$dualstack`, see lib/ec2-prepull.sh): the regional host is what the S3
# gateway endpoint of private subnets routes. A failure is logged: Auto Scaling then goes on
# after the hook's heartbeat timeout (its default result is CONTINUE).
set -u -o pipefail

HOOK=${SLIPWAY_LAUNCH_HOOK:?the lifecycle hook}
GROUP=${SLIPWAY_LAUNCH_HOOK_GROUP:?the Auto Scaling group}
REGION=${SLIPWAY_LAUNCH_HOOK_REGION:?the AWS Region}
ATTEMPTS=${SLIPWAY_LAUNCH_HOOK_ATTEMPTS:-5}
RETRY_SECONDS=${SLIPWAY_LAUNCH_HOOK_RETRY_SECONDS:-5}
IMDS=${SLIPWAY_LAUNCH_HOOK_IMDS:-http://169.254.169.254}

log() { echo "slipway-launch-hook: $*" >&2; }

# IMDSv2 (the launch template requires it): a session token, then the instance id with it.
token=$(curl -sf -X PUT "$IMDS/latest/api/token" -H 'X-aws-ec2-metadata-token-ttl-seconds: 300' --max-time 2) || token=''
instance_id=$(curl -sf -H "X-aws-ec2-metadata-token: $token" --max-time 2 "$IMDS/latest/meta-data/instance-id") || instance_id=''
if [[ -z $instance_id ]]; then
  log "no instance id from the instance metadata service: the hook $HOOK ends at its timeout"
  exit 0
fi

if ! command -v aws >/dev/null 2>&1; then
  log "installing the AWS CLI (awscli-2)"
  DNF_VAR_dualstack='' timeout 300 dnf install -y -q awscli-2 >/dev/null 2>&1 || {
    log "could not install the AWS CLI: the hook $HOOK ends at its timeout"
    exit 0
  }
fi

# The action may not be pending yet when the first boot gets here: a few tries, a few seconds apart.
for attempt in $(seq 1 "$ATTEMPTS"); do
  if aws autoscaling complete-lifecycle-action --region "$REGION" --lifecycle-hook-name "$HOOK" --auto-scaling-group-name "$GROUP" \
    --instance-id "$instance_id" --lifecycle-action-result CONTINUE >/dev/null; then
    log "completed $HOOK for $instance_id"
    exit 0
  fi
  ((attempt < ATTEMPTS)) && sleep "$RETRY_SECONDS"
done
log "could not complete the lifecycle action $HOOK after $ATTEMPTS tries: Auto Scaling continues after the hook's timeout"
exit 0
