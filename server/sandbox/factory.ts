/** Picks the SandboxDriver adapter named in the config. */
import path from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config.js';
import { AppError } from '../errors.js';
import type { SandboxDriver } from './driver.js';

export async function createDriver(config: Config, o: { ownerId: string; logger: Logger }): Promise<SandboxDriver> {
  if (config.driver.kind === 'local') {
    const { LocalDriver } = await import('./local.js');
    return new LocalDriver({ rootDir: path.join(config.dataDir, 'local-sandboxes'), ownerId: o.ownerId, logger: o.logger });
  }
  if (config.driver.kind === 'kubernetes') {
    const { KubernetesDriver } = await import('./kubernetes.js');
    const k8s = config.driver.kubernetes;
    const driver = new KubernetesDriver({
      ownerId: o.ownerId,
      logger: o.logger,
      namespace: k8s.namespace,
      imagePullPolicy: k8s.imagePullPolicy,
      egressBlockedCidrs: k8s.egressBlockedCidrs,
      ...(k8s.kubeconfig !== undefined ? { kubeconfig: k8s.kubeconfig } : {}),
      ...(k8s.runtimeClassName !== undefined ? { runtimeClassName: k8s.runtimeClassName } : {}),
    });
    // Fails at start, with what to fix, when no API server answers or the namespace is missing.
    await driver.ping();
    return driver;
  }
  const { DockerDriver } = await import('./docker.js');
  const driver = new DockerDriver({
    socketPath: config.driver.dockerSocket,
    subnetPool: config.driver.subnetPool,
    ownerId: o.ownerId,
    logger: o.logger,
    diskDir: path.join(config.dataDir, 'disks'),
  });
  await driver.ping();
  await driver.applyNetworkGuard();
  if (!driver.networkGuard.enabled) o.logger.error({ networkGuard: driver.networkGuard }, `sandbox network guard is off: ${driver.networkGuard.detail}`);
  driver.watchNetworkGuard(config.driver.networkGuardCheckSeconds * 1000);
  await driver.applyDiskLimits();
  if (!driver.diskLimit.enabled) o.logger.error({ diskLimit: driver.diskLimit }, `sandbox disk limits are off: ${driver.diskLimit.detail}`);
  if (!(await driver.imageExists(config.driver.baseImage))) {
    throw new AppError(
      'CONFIG_INVALID',
      `the sandbox image ${config.driver.baseImage} is missing; build it with: bash scripts/setup/all.sh`,
    );
  }
  return driver;
}
