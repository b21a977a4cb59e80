/**
 * Reading a sandbox Pod's status as the driver needs it: is the candidate's shell
 * container running, and if the Pod cannot start, why (in words an operator can act
 * on: the image is missing, no node has room, a container cannot be created).
 */
import type { IPod } from 'kubernetes-models/v1/Pod';
import { WORKSPACE_CONTAINER } from './kubernetes-pod.js';

/** Waiting reasons that will not resolve by waiting (restartPolicy is Never; nothing retries usefully). */
const FATAL_WAITING_REASONS = new Set([
  'ErrImageNeverPull',
  'ErrImagePull',
  'ImagePullBackOff',
  'InvalidImageName',
  'CreateContainerConfigError',
  'CreateContainerError',
  'RunContainerError',
  'CrashLoopBackOff',
]);

export type PodState =
  | { kind: 'running' }
  | { kind: 'pending'; detail: string }
  | { kind: 'failed'; reason: string }
  | { kind: 'gone'; reason: string };

/** Whether the candidate's shell container runs (and the Pod is not being deleted). */
export function podRunning(pod: IPod): boolean {
  return podState(pod).kind === 'running';
}

export function podState(pod: IPod): PodState {
  const status = pod.status ?? {};
  if (pod.metadata?.deletionTimestamp) return { kind: 'gone', reason: 'the sandbox Pod is being deleted' };
  const phase = status.phase ?? 'Pending';
  if (phase === 'Failed' || phase === 'Succeeded') {
    const why = [status.reason, status.message].filter(Boolean).join(': ');
    const ended = terminatedContainers(pod);
    return { kind: 'gone', reason: `the sandbox Pod ${phase === 'Failed' ? 'failed' : 'ended'}${why ? ` (${why})` : ''}${ended ? `; ${ended}` : ''}` };
  }

  const unschedulable = (status.conditions ?? []).find((c) => c.type === 'PodScheduled' && c.status === 'False' && c.reason === 'Unschedulable');
  if (unschedulable) return { kind: 'failed', reason: `no node can run the sandbox: ${unschedulable.message ?? 'Unschedulable'}` };

  const containers = [...(status.initContainerStatuses ?? []), ...(status.containerStatuses ?? [])];
  for (const c of containers) {
    const waiting = c.state?.waiting;
    if (waiting?.reason && FATAL_WAITING_REASONS.has(waiting.reason)) {
      return { kind: 'failed', reason: `container ${c.name}: ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}` };
    }
    const terminated = c.state?.terminated;
    // An init container that ended well is fine; any other end means the sandbox is not usable.
    const isInit = (status.initContainerStatuses ?? []).includes(c);
    if (terminated && !(isInit && terminated.exitCode === 0)) {
      return { kind: 'failed', reason: `container ${c.name} exited (${terminated.reason ?? 'exit code'} ${terminated.exitCode})${terminated.message ? `: ${terminated.message}` : ''}` };
    }
  }

  const workspace = (status.containerStatuses ?? []).find((c) => c.name === WORKSPACE_CONTAINER);
  if (phase === 'Running' && workspace?.state?.running) return { kind: 'running' };
  const waiting = containers.map((c) => c.state?.waiting?.reason && `${c.name}: ${c.state.waiting.reason}`).filter(Boolean);
  return { kind: 'pending', detail: waiting.length > 0 ? waiting.join(', ') : `phase ${phase}` };
}

function terminatedContainers(pod: IPod): string {
  return (pod.status?.containerStatuses ?? [])
    .map((c) => c.state?.terminated && `container ${c.name} exited (${c.state.terminated.reason ?? 'exit code'} ${c.state.terminated.exitCode})`)
    .filter(Boolean)
    .join(', ');
}
