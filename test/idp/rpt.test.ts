import { rptPermissions } from '../../src/idp/rpt.js';

describe('rptPermissions', () => {
  it('lists resource#scope for each permission of an RPT', () => {
    const granted = rptPermissions({
      authorization: {
        permissions: [
          { rsid: 'a1', rsname: 'runs', scopes: ['read', 'write'] },
          { rsid: 'b2', rsname: 'bucket:mlflow', scopes: ['read'] },
        ],
      },
    });
    expect([...granted!].sort()).toEqual(['bucket:mlflow#read', 'runs#read', 'runs#write']);
  });

  it('is undefined for a token that is not an RPT, and empty for an RPT granting nothing usable', () => {
    expect(rptPermissions({ sub: 'x' })).toBeUndefined();
    expect(rptPermissions({ authorization: 'yes' })).toBeUndefined();
    expect(rptPermissions({ authorization: {} })).toBeUndefined();
    // No scopes (a scopeless resource), odd entries: nothing is granted on a guess.
    expect(
      rptPermissions({
        authorization: { permissions: [{ rsname: 'runs' }, 'runs#read', null, { rsname: 'runs', scopes: [7] }, { scopes: ['read'] }] },
      })!.size,
    ).toBe(0);
  });
});
