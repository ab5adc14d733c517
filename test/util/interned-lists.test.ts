import { InternedLists } from '../../src/util/interned-lists.js';

describe('InternedLists', () => {
  it('returns one shared, frozen array for equal lists, not the caller’s', () => {
    const lists = new InternedLists();
    const first = ['mlflow-editors', 'staff'];
    const a = lists.intern(first);
    const b = lists.intern(['mlflow-editors', 'staff']);
    expect(a).toBe(b);
    expect(a).not.toBe(first);
    expect(a).toEqual(first);
    expect(Object.isFrozen(a)).toBe(true);
    first.push('admins');
    expect(a).toEqual(['mlflow-editors', 'staff']);
  });

  it('keeps lists apart that differ in order or in where values split', () => {
    const lists = new InternedLists();
    expect(lists.intern(['a', 'b'])).not.toBe(lists.intern(['b', 'a']));
    expect(lists.intern(['a,b'])).toEqual(['a,b']);
    expect(lists.intern(['a\u0000b'])).not.toBe(lists.intern(['a', 'b']));
    expect(lists.intern([])).toEqual([]);
  });

  it('is bounded by lists and by length: emptied when full, long lists copied', () => {
    const lists = new InternedLists(3, 50);
    for (let i = 0; i < 10; i++) lists.intern([`group-${i}`]);
    expect(lists.size).toBeLessThanOrEqual(3);
    const long = ['x'.repeat(60)];
    const copy = lists.intern(long);
    expect(copy).toEqual(long);
    expect(copy).not.toBe(long);
    expect(lists.intern(long)).not.toBe(copy);
    expect(lists.size).toBeLessThanOrEqual(3);
  });
});
