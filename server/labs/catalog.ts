import { AppError } from '../errors.js';
import { formatProblem, loadLabs, type Lab, type LabLoadResult } from './loader.js';

/** The labs the server offers, loaded once at start (a broken lab is kept aside with its problems). */
export class LabCatalog {
  private constructor(private readonly result: LabLoadResult) {}

  static load(labsDir: string): LabCatalog {
    return new LabCatalog(loadLabs(labsDir));
  }

  list(): Lab[] {
    return [...this.result.labs.values()];
  }

  get invalid(): { id: string; problems: string[] }[] {
    return this.result.invalid.map((i) => ({
      id: i.dir.split('/').pop() ?? i.dir,
      problems: i.problems.map(formatProblem),
    }));
  }

  /** The lab, or NOT_FOUND / LAB_INVALID (with its problems) for one that failed to load. */
  require(id: string): Lab {
    const lab = this.result.labs.get(id);
    if (lab) return lab;
    const broken = this.invalid.find((i) => i.id === id);
    if (broken) {
      throw new AppError('LAB_INVALID', `lab "${id}" is invalid: ${broken.problems.join('; ')}`, { details: broken.problems });
    }
    throw new AppError('NOT_FOUND', `no lab "${id}"`);
  }
}

/** The public shape of a lab in the API (no file paths). */
export function labSummary(lab: Lab) {
  return {
    id: lab.id,
    title: lab.title,
    summary: lab.summary,
    difficulty: lab.difficulty,
    durationMinutes: lab.durationMinutes,
    tags: lab.tags,
    checks: lab.checks.map((c) => ({ id: c.id, title: c.title, points: c.points, hidden: c.hidden })),
  };
}
