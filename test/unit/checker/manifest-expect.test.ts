/**
 * The pieces of the manifest check's expectations: paths, operators on values, and the
 * guard against catastrophic patterns.
 */
import { describe, expect, it } from 'vitest';
import {
  MAX_MATCH_INPUT,
  catastrophicPattern,
  checkExpectation,
  expectationSchema,
  formatPath,
  parsePath,
  resolvePath,
  type Expectation,
} from '../../../server/checker/checks/manifest-expect.js';

const exp = (raw: Record<string, unknown>): Expectation => expectationSchema.parse(raw);

describe('paths', () => {
  it('parses keys, indexes, wildcards and quoted keys', () => {
    expect(parsePath('spec.strategy.canary.steps[0].setWeight')).toEqual([
      { kind: 'key', key: 'spec' },
      { kind: 'key', key: 'strategy' },
      { kind: 'key', key: 'canary' },
      { kind: 'key', key: 'steps' },
      { kind: 'index', index: 0 },
      { kind: 'key', key: 'setWeight' },
    ]);
    expect(parsePath('steps[*].setWeight')[1]).toEqual({ kind: 'all' });
    expect(parsePath('metadata.annotations["prometheus.io/scrape"]')[2]).toEqual({ kind: 'key', key: 'prometheus.io/scrape' });
    expect(parsePath("a['b.c'][2]")).toEqual([{ kind: 'key', key: 'a' }, { kind: 'key', key: 'b.c' }, { kind: 'index', index: 2 }]);
  });

  it('refuses nonsense with the position', () => {
    expect(() => parsePath('a..b')).toThrow(/empty key at character 3/);
    expect(() => parsePath('a.')).toThrow(/trailing \./);
    expect(() => parsePath('a[x]')).toThrow(/expected \[number\]/);
    expect(() => parsePath('a["b]')).toThrow(/unterminated/);
    expect(() => parsePath('a[0]b')).toThrow(/expected \. or \[/);
  });

  it('formats concrete paths back', () => {
    expect(formatPath(['spec', 'steps', 2, 'setWeight'])).toBe('spec.steps[2].setWeight');
    expect(formatPath(['metadata', 'annotations', 'prometheus.io/scrape'])).toBe('metadata.annotations["prometheus.io/scrape"]');
  });

  it('a wildcard yields only the values that are there, over lists and mappings', () => {
    const obj = { steps: [{ setWeight: 10 }, { pause: {} }, { setWeight: 40 }], labels: { a: '1', b: '2' } };
    expect(resolvePath(obj, parsePath('steps[*].setWeight')).found.map((f) => f.value)).toEqual([10, 40]);
    expect(resolvePath(obj, parsePath('labels[*]')).found.map((f) => f.path)).toEqual([
      ['labels', 'a'],
      ['labels', 'b'],
    ]);
    expect(resolvePath(obj, parsePath('steps[1].pause.duration'))).toEqual({ found: [], deepest: ['steps', 1, 'pause'] });
  });
});

describe('operators', () => {
  const obj = { spec: { replicas: 3, image: 'churn-api:2.1.0', weights: [10, 20, 20, 50], flag: true, empty: null } };

  it('eq compares deeply and exactly (no string/number coercion)', () => {
    expect(checkExpectation(obj, exp({ path: 'spec.weights', eq: [10, 20, 20, 50] }))).toBeUndefined();
    expect(checkExpectation(obj, exp({ path: 'spec.replicas', eq: '3' }))?.message).toBe('spec.replicas is 3, expected "3"');
    expect(checkExpectation(obj, exp({ path: 'spec.empty', eq: null }))).toBeUndefined();
    expect(checkExpectation(obj, exp({ path: 'spec.flag', eq: true }))).toBeUndefined();
  });

  it('exists: true accepts a null value; exists: false refuses it', () => {
    expect(checkExpectation(obj, exp({ path: 'spec.empty', exists: true }))).toBeUndefined();
    expect(checkExpectation(obj, exp({ path: 'spec.empty', exists: false }))?.message).toBe('spec.empty is there (null), expected it to be absent');
  });

  it('increasing / nonDecreasing also work on a path that is a list', () => {
    expect(checkExpectation(obj, exp({ path: 'spec.weights', nonDecreasing: true }))).toBeUndefined();
    expect(checkExpectation(obj, exp({ path: 'spec.weights', increasing: true }))?.message).toBe(
      'spec.weights is [10, 20, 20, 50], expected increasing numbers (spec.weights[2] = 20 is not greater than 20)',
    );
    expect(checkExpectation(obj, exp({ path: 'spec.replicas', increasing: true }))?.message).toBe('spec.replicas is 3, expected a list of numbers');
    expect(checkExpectation({ s: [1, 'two'] }, exp({ path: 's', increasing: true }))?.message).toBe('s is [1, "two"], expected a list of numbers (s[1] is "two")');
  });

  it('matches tests numbers and booleans as text, and refuses very long values', () => {
    expect(checkExpectation(obj, exp({ path: 'spec.replicas', matches: '^\\d$' }))).toBeUndefined();
    expect(checkExpectation(obj, exp({ path: 'spec', matches: 'x' }))?.message).toMatch(/^spec is \{.*\}, expected text matching \/x\/$/);
    const long = { v: 'a'.repeat(MAX_MATCH_INPUT + 1) };
    const start = performance.now();
    expect(checkExpectation(long, exp({ path: 'v', matches: '^a+$' }))?.message).toBe(
      `v is ${MAX_MATCH_INPUT + 1} characters long, too long to test against /^a+$/ (at most ${MAX_MATCH_INPUT})`,
    );
    expect(performance.now() - start).toBeLessThan(100);
  });

  it('previews of candidate values are bounded', () => {
    const huge = { v: 'x'.repeat(100_000) };
    expect(checkExpectation(huge, exp({ path: 'v', eq: 'y' }))!.message.length).toBeLessThan(200);
  });
});

describe('catastrophic patterns', () => {
  it.each(['(a+)+', '(a*)*b', '(a|aa)+?(b+)+', '((ab)*)+', '(?:x+y?)*z', '(x{2,})+', '(?<name>a+)+'])('refuses %s', (p) => {
    expect(catastrophicPattern(p)).toMatch(/repeated group contains a repetition/);
  });

  it.each(['^churn-api:2\\.', '^[a-z0-9.-]+/[a-z0-9-]+:[0-9]+\\.[0-9]+$', '(ab|cd)+', '\\d+(\\.\\d+)?', '[(+*]+', 'a{2}b', '(?i)^prod$', '(a)?b+'])(
    'accepts %s',
    (p) => {
      expect(catastrophicPattern(p)).toBeNull();
    },
  );

  it('refuses backreferences', () => {
    expect(catastrophicPattern('(a)\\1')).toMatch(/backreferences/);
    expect(catastrophicPattern('(?<n>a)\\k<n>')).toMatch(/backreferences/);
  });
});
