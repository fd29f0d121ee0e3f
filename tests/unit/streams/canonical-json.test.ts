import { canonicalJson, canonicalStoredJson } from '../../../streams/canonical-json';

/** The definition canonicalStoredJson stands for: the value's JSON round trip, then canonical. */
const viaRoundTrip = (v: unknown): string => {
  const text = JSON.stringify(v);
  return canonicalJson(text === undefined ? null : JSON.parse(text));
};

const values: unknown[] = [
  null,
  0,
  -0,
  12.5,
  NaN,
  Infinity,
  'plain',
  'quote " backslash \\ newline \n tab \t \u0001 é 𝄞',
  true,
  [],
  {},
  [1, 'a', null, undefined, () => 1, [2, [3]]],
  { b: 1, a: 2, A: 3, _: 4, é: 5, '10': 6, '9': 7, '': 8 },
  { keep: 1, gone: undefined, fn: () => 1, nested: { z: [undefined], y: { x: null } } },
  { at: new Date('2026-12-03T07:31:20.258Z'), when: [new Date(0)] },
  { custom: { toJSON: () => ({ b: 2, a: 1 }) } },
  { toJSON: 'not a function', k: 1 },
  {
    attempt: 1,
    at: new Date('2026-12-03T07:31:20.258Z'),
    version: 4,
    changes: { notes: 'bench 0', cost: 12.5 },
    coalescedWith: ['23cc6a28-8734-4720-93de-80575ae08477'],
  },
];

describe('canonicalJson', () => {
  it('sorts keys in UTF-16 order at every level and drops undefined members', () => {
    expect(canonicalJson({ b: { d: 1, c: [{ f: 2, e: 3 }] }, a: undefined, é: 1, Z: 0 })).toBe(
      '{"Z":0,"b":{"c":[{"e":3,"f":2}],"d":1},"é":1}',
    );
    expect(canonicalJson([undefined, 'x'])).toBe('[null,"x"]');
    expect(canonicalJson(undefined)).toBe('null');
  });

  it('gives equal values the same text whatever their key order', () => {
    expect(canonicalJson({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(canonicalJson({ b: [1, { d: 3, c: 2 }], a: 1 }));
  });

  it('is JSON that parses back to the value', () => {
    for (const v of values.filter((x) => JSON.stringify(x) !== undefined)) {
      const plain = JSON.parse(JSON.stringify(v)) as unknown;
      expect(JSON.parse(canonicalJson(plain))).toEqual(plain);
    }
  });
});

describe('canonicalStoredJson', () => {
  it.each(values.map((v, i) => [i, v]))('value %i: the canonical JSON of its JSON round trip', (_i, v) => {
    expect(canonicalStoredJson(v)).toBe(viaRoundTrip(v));
  });

  it('turns a Date into its ISO text and a toJSON into its result', () => {
    expect(canonicalStoredJson({ at: new Date('2026-12-03T00:00:00Z') })).toBe('{"at":"2026-12-03T00:00:00.000Z"}');
    expect(canonicalStoredJson({ x: { toJSON: () => ({ b: 2, a: 1 }) } })).toBe('{"x":{"a":1,"b":2}}');
  });

  it('equals canonicalJson on plain JSON values (what is read back from the database)', () => {
    for (const v of values) {
      const text = JSON.stringify(v);
      if (text === undefined) continue;
      const plain = JSON.parse(text) as unknown;
      expect(canonicalStoredJson(plain)).toBe(canonicalJson(plain));
    }
  });
});
