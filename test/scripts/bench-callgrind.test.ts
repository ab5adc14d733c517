/**
 * `npm run bench:nginx-instructions` reports each function's own instructions from a callgrind dump: a callee's
 * inclusive cost (the line after `calls=`) must not be counted again for its caller, and names given once by id
 * must be found again.
 */
// @ts-expect-error: plain JavaScript module of the bench, no types
import { selfCost } from '../../scripts/bench/callgrind.mjs';

const DUMP = `version: 1
creator: callgrind-3.19.0
events: Ir
summary: 1170

ob=(1) /usr/sbin/nginx
fl=(1) ???
fn=(1) ngx_http_file_cache_create_key
0 100
+2 20
cfn=(2) ngx_md5_update
calls=3 0
0 1000
fn=(2)
0 1000
fn=(3) 0x0000000000030d80
* 50
`;

describe('bench:nginx-instructions: callgrind self cost', () => {
  it('counts each function once, without its callees, and resolves names given by id', () => {
    const cost: Map<string, number> = selfCost(DUMP);
    expect(Object.fromEntries(cost)).toEqual({
      ngx_http_file_cache_create_key: 120,
      ngx_md5_update: 1000,
      '0x0000000000030d80': 50,
    });
    expect([...cost.values()].reduce((a, b) => a + b, 0)).toBe(1170);
  });
});
