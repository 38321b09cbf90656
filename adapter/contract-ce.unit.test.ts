// The contract's CloudEvent rules are the adapter's: every extension the contract (hence the CRD
// and the operator) lets through must build a valid event with the SDK the adapter sends with,
// whatever its value, so no admitted spec can leave an adapter refusing or dropping every tick.
import { CloudEvent, HTTP } from 'cloudevents';
import fc from 'fast-check';
import {
  CE_EXTENSION_NAME,
  HEARTBEAT_EVENT_TYPE,
  ceExtensionNameProblem,
  heartbeatSource,
} from '../contract/cloudevents.js';
import { encodeCeHeaders } from './ce-headers.js';

const heartbeatOf = (extensions: Record<string, string>) =>
  new CloudEvent({
    ...extensions,
    id: 'f0e1d2c3',
    type: HEARTBEAT_EVENT_TYPE,
    source: heartbeatSource('demo', 'beat'),
    time: new Date(0).toISOString(),
    datacontenttype: 'application/json',
    data: { sequence: 1 },
  });

// Names the SDK's CloudEvent constructor handles specially (it knows CloudEvents 0.3 too).
const SDK_ATTRIBUTE_NAMES = [
  'schemaurl',
  'datacontentencoding',
  'specversion',
  'time',
  'dataschema',
  'subject',
];

const allowedName = fc
  .oneof(fc.stringMatching(CE_EXTENSION_NAME), fc.constantFrom(...SDK_ATTRIBUTE_NAMES))
  .filter((name) => ceExtensionNameProblem(name) === undefined);

describe('every extension the contract admits is one the adapter can send', () => {
  it('builds, encodes and keeps its value, for any allowed name and any string value', () => {
    fc.assert(
      fc.property(
        fc.dictionary(allowedName, fc.string({ unit: 'grapheme' }), { maxKeys: 5 }),
        (extensions) => {
          const event = heartbeatOf(extensions);
          for (const [name, value] of Object.entries(extensions)) expect(event[name]).toBe(value);
          const headers = encodeCeHeaders(HTTP.binary(event).headers as Record<string, string>);
          for (const name of Object.keys(extensions)) expect(headers[`ce-${name}`]).toMatch(/^[\x21-\x7e]*$/);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('the SDK refuses schemaurl on a 1.0 event, so the contract must refuse it too', () => {
    expect(() => heartbeatOf({ schemaurl: 'http://x.example/' })).toThrow(/schemaurl/);
    expect(ceExtensionNameProblem('schemaurl')).toContain('core CloudEvents attribute');
  });

  it('the SDK breaks on an extension named validate (it shadows a method), so the contract refuses it', () => {
    expect(() => heartbeatOf({ validate: 'x' })).toThrow();
    expect(ceExtensionNameProblem('validate')).toBeDefined();
  });

  it.each(SDK_ATTRIBUTE_NAMES)('the contract refuses %j, which the SDK treats as an attribute', (name) => {
    expect(ceExtensionNameProblem(name)).toContain('core CloudEvents attribute');
  });
});
