import { describe, expect, it } from 'vitest';
import type { IPod } from 'kubernetes-models/v1/Pod';
import { podState } from '../../../server/sandbox/kubernetes-pod-status.js';

type Status = NonNullable<IPod['status']>;
const pod = (status: Status, meta: IPod['metadata'] = { name: 'opslab-x' }): IPod => ({ apiVersion: 'v1', kind: 'Pod', metadata: meta, status });
const running = { running: { startedAt: '2026-01-01T00:00:00Z' } };

describe('reading a sandbox Pod', () => {
  it('is running once the workspace container runs', () => {
    const p = pod({ phase: 'Running', containerStatuses: [{ name: 'workspace', state: running, image: 'i', imageID: '', ready: true, restartCount: 0 }, { name: 'grader', state: running, image: 'i', imageID: '', ready: true, restartCount: 0 }] });
    expect(podState(p)).toEqual({ kind: 'running' });
    expect(podState({ ...p, metadata: { deletionTimestamp: '2026-01-01T00:00:01Z' } }).kind).toBe('gone');
  });

  it('is pending while containers are created, saying which', () => {
    const p = pod({ phase: 'Pending', initContainerStatuses: [{ name: 'home', state: { waiting: { reason: 'PodInitializing' } }, image: 'i', imageID: '', ready: false, restartCount: 0 }] });
    expect(podState(p)).toEqual({ kind: 'pending', detail: 'home: PodInitializing' });
    expect(podState(pod({}))).toEqual({ kind: 'pending', detail: 'phase Pending' });
  });

  it('fails at once on a missing image, with the kubelet message', () => {
    const p = pod({
      phase: 'Pending',
      containerStatuses: [{ name: 'workspace', state: { waiting: { reason: 'ErrImageNeverPull', message: 'Container image "x:1" is not present with pull policy of Never' } }, image: 'x:1', imageID: '', ready: false, restartCount: 0 }],
    });
    expect(podState(p)).toEqual({ kind: 'failed', reason: 'container workspace: ErrImageNeverPull: Container image "x:1" is not present with pull policy of Never' });
  });

  it('fails at once when no node can take it', () => {
    const p = pod({ phase: 'Pending', conditions: [{ type: 'PodScheduled', status: 'False', reason: 'Unschedulable', message: '0/1 nodes are available: 1 Insufficient memory.' }] });
    expect(podState(p)).toEqual({ kind: 'failed', reason: 'no node can run the sandbox: 0/1 nodes are available: 1 Insufficient memory.' });
  });

  it('fails when a container ended, but not for an init container that succeeded', () => {
    const init = { name: 'home', state: { terminated: { exitCode: 0, reason: 'Completed' } }, image: 'i', imageID: '', ready: false, restartCount: 0 };
    expect(podState(pod({ phase: 'Pending', initContainerStatuses: [init] })).kind).toBe('pending');
    const broken = { ...init, state: { terminated: { exitCode: 1, reason: 'Error', message: 'cp: cannot create' } } };
    expect(podState(pod({ phase: 'Pending', initContainerStatuses: [broken] }))).toEqual({ kind: 'failed', reason: 'container home exited (Error 1): cp: cannot create' });
  });

  it('is gone when the Pod ended or was evicted', () => {
    const p = pod({ phase: 'Failed', reason: 'Evicted', message: 'Pod ephemeral local storage usage exceeds the total limit of containers 1Gi.' });
    expect(podState(p)).toEqual({ kind: 'gone', reason: 'the sandbox Pod failed (Evicted: Pod ephemeral local storage usage exceeds the total limit of containers 1Gi.)' });
  });
});
