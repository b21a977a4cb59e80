/** The JSON path expectations shared by the http and command checks (server/checker/json-expect.ts). */
import { describe, expect, it } from 'vitest';
import {
  checkJson,
  checkValue,
  compilePattern,
  jsonExpectationSchema,
  parseJsonPath,
  preview,
  selectJsonPath,
} from '../../../server/checker/json-expect.js';

describe('json paths', () => {
  it('parses dotted keys, indexes, wildcards and quoted keys', () => {
    expect(parseJsonPath('a.b[0].c')).toEqual([
      { kind: 'key', key: 'a' },
      { kind: 'key', key: 'b' },
      { kind: 'index', index: 0 },
      { kind: 'key', key: 'c' },
    ]);
    expect(parseJsonPath('$.items[*].id')).toEqual([{ kind: 'key', key: 'items' }, { kind: 'all' }, { kind: 'key', key: 'id' }]);
    expect(parseJsonPath('[*]')).toEqual([{ kind: 'all' }]);
    expect(parseJsonPath('headers["content-type"]')).toEqual([
      { kind: 'key', key: 'headers' },
      { kind: 'key', key: 'content-type' },
    ]);
    expect(parseJsonPath("['a.b'].c")).toEqual([
      { kind: 'key', key: 'a.b' },
      { kind: 'key', key: 'c' },
    ]);
  });

  it.each(['a..b', 'a.', '.a', 'a[', 'a[x]', 'a["b]', 'a[-1]', ''])('refuses %j', (p) => {
    expect(() => parseJsonPath(p)).toThrow();
    expect(jsonExpectationSchema.safeParse({ path: p, exists: true }).success).toBe(false);
  });

  it('selects through wildcards over arrays and objects', () => {
    const doc = { items: [{ id: 1 }, { id: 2 }, {}], by: { a: 1, b: 2 } };
    expect(selectJsonPath(doc, 'items[*].id')).toEqual([
      { path: 'items[0].id', value: 1 },
      { path: 'items[1].id', value: 2 },
    ]);
    expect(selectJsonPath(doc, 'by[*]').map((f) => f.value)).toEqual([1, 2]);
    expect(selectJsonPath(doc, '$')).toEqual([{ path: '', value: doc }]);
  });

  it('does not read inherited properties', () => {
    expect(checkJson({}, { path: 'constructor', exists: true })).toBe('field `constructor` is missing');
    expect(checkJson({ a: [] }, { path: 'a.length', exists: true })).toBe('field `a.length` is missing');
  });
});

describe('json expectations', () => {
  const doc = { status: 'ok', n: 3, items: [{ score: 0.2 }, { score: 0.9 }], empty: [], nested: { x: null } };

  it('every value under a wildcard must pass, and there must be one', () => {
    expect(checkJson(doc, { path: 'items[*].score', lte: 1 })).toBeUndefined();
    expect(checkJson(doc, { path: 'items[*].score', lte: 0.5 })).toBe('`items[1].score` is 0.9, expected at most 0.5');
    expect(checkJson(doc, { path: 'empty[*]', type: 'number' })).toBe('`empty[*]` matched nothing (an empty list or object)');
    expect(checkJson(doc, { path: 'empty[*]', exists: false })).toBeUndefined();
  });

  it('exists, null and type', () => {
    expect(checkJson(doc, { path: 'nested.x', exists: true })).toBeUndefined();
    expect(checkJson(doc, { path: 'nested.x', type: 'null' })).toBeUndefined();
    expect(checkJson(doc, { path: 'nested.y', exists: false })).toBeUndefined();
    expect(checkJson(doc, { path: 'status', exists: false })).toBe('`status` is there ("ok"), expected it to be absent');
    expect(checkJson(doc, { path: 'n', type: 'integer' })).toBeUndefined();
    expect(checkJson(doc, { path: 'items', type: 'object' })).toBe('`items` is [{"score": 0.2}, {"score": 0.9}], expected an object');
  });

  it('eq is deep and strict for JSON, numeric strings only when asked', () => {
    expect(checkJson(doc, { path: 'items[0]', eq: { score: 0.2 } })).toBeUndefined();
    expect(checkJson(doc, { path: 'items[0]', eq: { score: 0.2, extra: 1 } })).toBeDefined();
    expect(checkValue('100', { eq: 100 })).toBe('is "100", expected 100');
    expect(checkValue('100', { eq: 100 }, { numericStrings: true })).toBeUndefined();
    expect(checkValue('True', { eq: true }, { numericStrings: true })).toBeUndefined();
    expect(checkValue('1e3', { type: 'integer' }, { numericStrings: true })).toBe('is "1e3", expected an integer');
    expect(checkValue('None', { gte: 1 }, { numericStrings: true })).toBe('is "None", expected a number at least 1');
  });

  it('inline flags in patterns', () => {
    expect(compilePattern('(?i)hello').test('HELLO')).toBe(true);
    expect(compilePattern('(?is)a.b').test('A\nB')).toBe(true);
    expect(checkValue(42, { matches: '^4' })).toBeUndefined();
    expect(checkValue({ a: 1 }, { matches: 'a' })).toBe('is {"a": 1}, expected text matching /a/');
  });

  it('previews stay short on huge or deep values', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(preview(deep).length).toBeLessThanOrEqual(120);
    expect(preview('x'.repeat(1_000_000)).length).toBeLessThanOrEqual(120);
    expect(preview(Object.fromEntries(Array.from({ length: 10_000 }, (_, i) => [`k${i}`, i])))).toContain('more');
  });
});
