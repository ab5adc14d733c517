/**
 * OwnerIndex counts (user, address) pairs: a user may have several cached exchanges owned by the
 * same address (two passwords during a change), and the pair must last until the last of them
 * leaves the cache. Found unguarded by the mutation run of src/basic/owners.ts (docs/mutation.md).
 */
import { OwnerIndex } from '../../src/basic/owners.js';

describe('OwnerIndex', () => {
  it('keeps a pair until every cached exchange that added it is removed', () => {
    const index = new OwnerIndex();
    index.add('u:alice', ['a:1', 'a:2']);
    index.add('u:alice', ['a:1']); // a second cached exchange of alice, owned by a:1 too
    expect(index.size).toBe(2);
    index.remove('u:alice', ['a:1', 'a:2']);
    expect(index.has('u:alice', 'a:1')).toBe(true);
    expect(index.has('u:alice', 'a:2')).toBe(false);
    expect(index.size).toBe(1);
    index.remove('u:alice', ['a:1']);
    expect(index.has('u:alice', 'a:1')).toBe(false);
    expect(index.size).toBe(0);
  });

  it('tells users and addresses apart, and removing an unknown pair leaves nothing behind', () => {
    const index = new OwnerIndex();
    index.add('u:alice', ['a:1']);
    expect(index.has('u:bob', 'a:1')).toBe(false);
    expect(index.has('u:alice', 'a:2')).toBe(false);
    index.remove('u:bob', ['a:1']);
    expect(index.size).toBe(1);
    expect(index.has('u:alice', 'a:1')).toBe(true);
  });
});
