import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { canonicalJson } from '../src/index.js';
import { assertInvalidInput } from './helpers.js';

describe('canonicalJson: RFC 8785 examples', () => {
  it('§3.2.2, the sample input: members sorted, numbers and strings normalized', () => {
    // The JSON text exactly as RFC 8785 §3.2.2 prints it (String.raw keeps its escapes for JSON.parse).
    const input = JSON.parse(String.raw`{
      "numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],
      "string": "\u20ac$\u000F\u000aA'\u0042\u0022\u005c\\\"\/",
      "literals": [null, true, false]
    }`) as unknown;
    const expected = String.raw`{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],"string":"€$\u000f\nA'B\"\\\\\"/"}`;
    assert.equal(canonicalJson(input), expected);
  });

  it('§3.2.3, sorting by UTF-16 code units: the emoji (D83D DE00) sorts before U+FB33', () => {
    const input = JSON.parse(String.raw`{
      "\u20ac": "Euro Sign",
      "\r": "Carriage Return",
      "\ufb33": "Hebrew Letter Dalet With Dagesh",
      "1": "One",
      "\ud83d\ude00": "Emoji: Grinning Face",
      "\u0080": "Control",
      "\u00f6": "Latin Small Letter O With Diaeresis"
    }`) as unknown;
    const expected =
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",' +
      '"\u20ac":"Euro Sign","\ud83d\ude00":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}';
    assert.equal(canonicalJson(input), expected);
  });

  /** RFC 8785 Appendix B: IEEE 754 bit patterns and their canonical text. */
  const APPENDIX_B = [
    ['0000000000000000', '0'],
    ['8000000000000000', '0'], // minus zero
    ['0000000000000001', '5e-324'],
    ['8000000000000001', '-5e-324'],
    ['7fefffffffffffff', '1.7976931348623157e+308'],
    ['ffefffffffffffff', '-1.7976931348623157e+308'],
    ['4340000000000000', '9007199254740992'],
    ['c340000000000000', '-9007199254740992'],
    ['4430000000000000', '295147905179352830000'],
    ['44b52d02c7e14af5', '9.999999999999997e+22'],
    ['44b52d02c7e14af6', '1e+23'],
    ['44b52d02c7e14af7', '1.0000000000000001e+23'],
    ['444b1ae4d6e2ef4e', '999999999999999700000'],
    ['444b1ae4d6e2ef4f', '999999999999999900000'],
    ['444b1ae4d6e2ef50', '1e+21'],
    ['3eb0c6f7a0b5ed8c', '9.999999999999997e-7'],
    ['3eb0c6f7a0b5ed8d', '0.000001'],
    ['41b3de4355555553', '333333333.3333332'],
    ['41b3de4355555554', '333333333.33333325'],
    ['41b3de4355555555', '333333333.3333333'],
    ['41b3de4355555556', '333333333.3333334'],
    ['41b3de4355555557', '333333333.33333343'],
    ['becbf647612f3696', '-0.0000033333333333333333'],
    ['43143ff3c1cb0959', '1424953923781206.2'],
  ] as const;

  for (const [bits, text] of APPENDIX_B) {
    it(`Appendix B: 0x${bits} -> ${text}`, () => {
      assert.equal(canonicalJson(Buffer.from(bits, 'hex').readDoubleBE(0)), text);
    });
  }

  it('Appendix B: the NaN (0x7fffffffffffffff) and Infinity (0x7ff0000000000000) rows are errors', () => {
    for (const bits of ['7fffffffffffffff', '7ff0000000000000']) {
      assertInvalidInput(() => canonicalJson(Buffer.from(bits, 'hex').readDoubleBE(0)));
    }
  });
});

describe('canonicalJson: numbers (ECMAScript Number::toString, RFC 8785 §3.2.2.3)', () => {
  const cases: Array<[number, string]> = [
    [1e21, '1e+21'],
    [1e20, '100000000000000000000'],
    [333333333.3333333, '333333333.3333333'],
    [-0, '0'],
    [1e-7, '1e-7'],
    [1e-6, '0.000001'],
    [0.1, '0.1'],
    [-1.5, '-1.5'],
    [42, '42'],
  ];
  for (const [value, text] of cases) {
    it(`${Object.is(value, -0) ? '-0' : String(value)} -> ${text}`, () => {
      assert.equal(canonicalJson(value), text);
      assert.equal(canonicalJson([value]), `[${text}]`);
    });
  }
});

describe('canonicalJson: structure', () => {
  it('sorts members at every level and keeps array order', () => {
    const value = { b: [{ z: 1, a: [true, null, { y: 'x', c: {} }] }, []], a: [] };
    assert.equal(canonicalJson(value), '{"a":[],"b":[{"a":[true,null,{"c":{},"y":"x"}],"z":1},[]]}');
  });

  it('does not depend on insertion order, including integer-like keys', () => {
    assert.equal(canonicalJson({ b: 1, a: 2, 10: 3, 9: 4 }), canonicalJson({ 9: 4, 10: 3, a: 2, b: 1 }));
    assert.equal(canonicalJson({ b: 1, a: 2, 10: 3, 9: 4 }), '{"10":3,"9":4,"a":2,"b":1}');
  });

  it('writes scalars at the top level', () => {
    assert.equal(canonicalJson(null), 'null');
    assert.equal(canonicalJson(true), 'true');
    assert.equal(canonicalJson(false), 'false');
    assert.equal(canonicalJson('x'), '"x"');
    assert.equal(canonicalJson({}), '{}');
    assert.equal(canonicalJson([]), '[]');
  });

  it('escapes strings as RFC 8785 §3.2.2.2 does: short escapes, \\u00xx lowercase, nothing else', () => {
    assert.equal(canonicalJson('\b\t\n\f\r"\\/\u0000\u001f\u007f\u2028é😀'), '"\\b\\t\\n\\f\\r\\"\\\\/\\u0000\\u001f\u007f\u2028é😀"');
  });

  it('accepts objects with a null prototype', () => {
    const value = Object.assign(Object.create(null) as Record<string, unknown>, { b: 1, a: 2 });
    assert.equal(canonicalJson(value), '{"a":2,"b":1}');
  });

  it('accepts the same object twice when it is not a cycle', () => {
    const shared = { k: 'v' };
    assert.equal(canonicalJson({ a: shared, b: [shared, shared] }), '{"a":{"k":"v"},"b":[{"k":"v"},{"k":"v"}]}');
  });
});

describe('canonicalJson: refusals (CRYPTO_INVALID_INPUT, nothing skipped silently)', () => {
  const refused: Array<[string, unknown]> = [
    ['undefined', undefined],
    ['an undefined member', { a: 1, b: undefined }],
    ['an undefined array element', [1, undefined]],
    ['a sparse array', [1, , 3]],
    ['an array with a named property', Object.assign([1, 2], { extra: true })],
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity in an object', { n: Number.NEGATIVE_INFINITY }],
    ['a bigint', 10n],
    ['a function', () => 1],
    ['a function member (toJSON is not honoured)', { toJSON: () => 'x' }],
    ['a symbol', Symbol('s')],
    ['a symbol-keyed member', { a: 1, [Symbol('s')]: 2 }],
    ['a Date', new Date(0)],
    ['a Date in an array', [new Date(0)]],
    ['a Buffer', Buffer.from('ab')],
    ['a Uint8Array', new Uint8Array(2)],
    ['a Map', new Map([['a', 1]])],
    ['a Set', new Set([1])],
    ['a RegExp', /x/],
    ['a boxed number', Object(1)],
    ['a boxed string', Object('s')],
    ['a class instance', new (class Point { x = 1; })()],
    ['a string with a lone high surrogate', 'a\ud800b'],
    ['a string with a lone low surrogate', '\udc00'],
    ['a key with a lone surrogate', { '\ud83d': 1 }],
  ];
  for (const [name, value] of refused) {
    it(`refuses ${name}`, () => {
      assertInvalidInput(() => canonicalJson(value));
    });
  }

  it('refuses a self-referencing object', () => {
    const value: Record<string, unknown> = { a: 1 };
    value['self'] = value;
    const error = assertInvalidInput(() => canonicalJson(value));
    assert.match(error.message, /\$\.self .*cycle/);
  });

  it('refuses a cycle through arrays', () => {
    const inner: unknown[] = [];
    const value = { list: [inner] };
    inner.push(value);
    assertInvalidInput(() => canonicalJson(value));
  });

  it('names the offending path in its message', () => {
    const error = assertInvalidInput(() => canonicalJson({ record: { 'created at': [1, new Date(0)] } }));
    assert.match(error.message, /\$\.record\["created at"\]\[1\] is a Date/);
  });
});
