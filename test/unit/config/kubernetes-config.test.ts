import { describe, expect, it } from 'vitest';
import { loadConfig, type ConfigProblem } from '../../../server/config.js';
import { AppError } from '../../../server/errors.js';

const problemsOf = (env: Record<string, string>): ConfigProblem[] => {
  try {
    loadConfig({ env, cwd: '/' });
  } catch (e) {
    if (e instanceof AppError) return (e.details as { problems: ConfigProblem[] }).problems;
    throw e;
  }
  throw new Error('expected loadConfig to throw');
};

describe('the kubernetes driver settings', () => {
  it('default to the opslab-sandboxes namespace, IfNotPresent, the in-cluster config and the default runtime', () => {
    const { config } = loadConfig({ env: { OPSLAB_DRIVER: 'kubernetes' }, cwd: '/' });
    expect(config.driver.kind).toBe('kubernetes');
    expect(config.driver.kubernetes).toEqual({ namespace: 'opslab-sandboxes', imagePullPolicy: 'IfNotPresent', egressBlockedCidrs: [] });
  });

  it('are read from OPSLAB_K8S_* variables, and the kubeconfig also from KUBECONFIG (OPSLAB_K8S_KUBECONFIG wins)', () => {
    const env = {
      OPSLAB_DRIVER: 'kubernetes',
      OPSLAB_K8S_NAMESPACE: 'labs-ns',
      OPSLAB_K8S_RUNTIME_CLASS: 'gvisor',
      OPSLAB_K8S_IMAGE_PULL_POLICY: 'Never',
      KUBECONFIG: '/etc/kube/admin.conf',
      OPSLAB_K8S_EGRESS_BLOCKED_CIDRS: '192.0.2.2/32, 198.51.100.0/24',
    };
    const { config, warnings } = loadConfig({ env, cwd: '/' });
    expect(warnings).toEqual([]);
    expect(config.driver.kubernetes).toEqual({
      namespace: 'labs-ns',
      runtimeClassName: 'gvisor',
      imagePullPolicy: 'Never',
      kubeconfig: '/etc/kube/admin.conf',
      egressBlockedCidrs: ['192.0.2.2/32', '198.51.100.0/24'],
    });
    const both = loadConfig({ env: { ...env, OPSLAB_K8S_KUBECONFIG: '/srv/opslab/kubeconfig' }, cwd: '/' });
    expect(both.config.driver.kubernetes.kubeconfig).toBe('/srv/opslab/kubeconfig');
  });

  it('are read from a config file', () => {
    const { config } = loadConfig({ env: {}, cwd: '/', overrides: { driver: { kind: 'kubernetes', kubernetes: { namespace: 'sbx', runtimeClassName: 'kata' } } } });
    expect(config.driver.kubernetes).toMatchObject({ namespace: 'sbx', runtimeClassName: 'kata' });
  });

  it('name each bad value and where it came from', () => {
    const problems = problemsOf({
      OPSLAB_DRIVER: 'kubernetes',
      OPSLAB_K8S_NAMESPACE: 'Not_A_Namespace',
      OPSLAB_K8S_IMAGE_PULL_POLICY: 'sometimes',
      OPSLAB_K8S_RUNTIME_CLASS: 'g visor',
      OPSLAB_K8S_EGRESS_BLOCKED_CIDRS: '10.0.0.0/8,example.com',
    });
    expect(problems.map((p) => [p.source, p.path])).toEqual(
      expect.arrayContaining([
        ['OPSLAB_K8S_NAMESPACE', 'driver.kubernetes.namespace'],
        ['OPSLAB_K8S_IMAGE_PULL_POLICY', 'driver.kubernetes.imagePullPolicy'],
        ['OPSLAB_K8S_RUNTIME_CLASS', 'driver.kubernetes.runtimeClassName'],
        ['OPSLAB_K8S_EGRESS_BLOCKED_CIDRS[1]', 'driver.kubernetes.egressBlockedCidrs.1'],
      ]),
    );
    expect(problems.find((p) => p.source === 'OPSLAB_K8S_IMAGE_PULL_POLICY')?.message).toMatch(/Always, IfNotPresent, Never/);
    expect(problemsOf({ OPSLAB_DRIVER: 'kubernets' })[0]?.message).toMatch(/docker, local, kubernetes/);
  });

  it('warn about a mistyped OPSLAB_K8S_ variable', () => {
    const { warnings } = loadConfig({ env: { OPSLAB_K8S_NAMESPAC: 'x' }, cwd: '/' });
    expect(warnings).toEqual(['OPSLAB_K8S_NAMESPAC is not a known setting and is ignored (did you mean OPSLAB_K8S_NAMESPACE?)']);
  });
});
