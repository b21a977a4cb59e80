import type { Lab } from './loader.js';

/**
 * What in a lab needs root inside the sandbox — a setup step run as root (the default),
 * or an added capability — or null. Drivers that run every sandbox process as the
 * candidate (Kubernetes) cannot run such a lab; the session service and `lab test`
 * refuse it there with this reason.
 */
export function rootNeedOf(lab: Pick<Lab, 'setup' | 'capabilities'>): string | null {
  const step = lab.setup.find((s) => s.user === 'root');
  if (step) return `its setup step "${step.name ?? step.run.split('\n')[0]}" runs as root`;
  if (lab.capabilities.length > 0) return `it adds the capabilities ${lab.capabilities.join(', ')}`;
  return null;
}
