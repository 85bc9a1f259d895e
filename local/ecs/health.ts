// ECS health checks: CMD or CMD-SHELL run inside the task (its namespaces), first one
// interval after the start, failures inside startPeriod not counted, `retries`
// consecutive failures make the container UNHEALTHY, one success makes it HEALTHY.
import type { HealthCheck } from '@aws-sdk/client-ecs';
import type { ChildProcess } from 'node:child_process';

export interface HealthSettings {
  argv: string[];
  intervalMs: number;
  timeoutMs: number;
  retries: number;
  startPeriodMs: number;
}

export function healthSettings(check: HealthCheck): HealthSettings {
  const [kind, ...rest] = check.command ?? [];
  return {
    argv: kind === 'CMD-SHELL' ? ['/bin/sh', '-c', rest.join(' ')] : rest,
    intervalMs: (check.interval ?? 30) * 1000,
    timeoutMs: (check.timeout ?? 5) * 1000,
    retries: check.retries ?? 3,
    startPeriodMs: (check.startPeriod ?? 0) * 1000,
  };
}

export interface ProbeResult {
  exitCode: number;
  output: string;
}

/** Runs one probe process to its end, killing its process group after the timeout. */
export function runProbe(child: ChildProcess, timeoutMs: number): Promise<ProbeResult> {
  return new Promise((resolve) => {
    let output = '';
    const collect = (chunk: Buffer): void => {
      output = (output + chunk.toString()).slice(-1024);
    };
    child.stdout?.on('data', collect);
    child.stderr?.on('data', collect);
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(child, 'SIGKILL');
    }, timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      resolve({ exitCode: -1, output: `health check could not run: ${error.message}` });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      killGroup(child, 'SIGKILL');
      if (timedOut) resolve({ exitCode: -1, output: `health check timed out after ${timeoutMs / 1000} s` });
      else resolve({ exitCode: code ?? 128 + signalNumber(signal), output: output.trim() });
    });
  });
}

export function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch (error) {
    // ESRCH: the group is already gone, which is what we wanted.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

export function signalNumber(signal: NodeJS.Signals | null): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGPIPE: 13, SIGTERM: 15 };
  return signal ? (numbers[signal] ?? 0) : 0;
}
