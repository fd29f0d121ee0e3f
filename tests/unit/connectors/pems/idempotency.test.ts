import { idempotencyKeyFor } from '../../../../connectors/pems/idempotency';

describe('idempotencyKeyFor', () => {
  it('when the same modification ids come in another order or repeated, then the key is the same', () => {
    expect(idempotencyKeyFor([3, 1, 2])).toBe(idempotencyKeyFor(['2', '3', '1', '3']));
  });
  it('when the ids differ, then the key differs', () => {
    expect(idempotencyKeyFor([1, 2])).not.toBe(idempotencyKeyFor([1, 3]));
  });
  it('when ids would collide if joined naively, then the keys still differ', () => {
    expect(idempotencyKeyFor(['1,2'])).not.toBe(idempotencyKeyFor(['1', '2']));
  });
  it('when the operation differs, then the key differs', () => {
    expect(idempotencyKeyFor([1], 'update')).not.toBe(idempotencyKeyFor([1], 'delete'));
  });
  it('when derived, then it is pems-sync: plus 64 hex characters', () => {
    expect(idempotencyKeyFor([42])).toMatch(/^pems-sync:[0-9a-f]{64}$/);
  });
  it('when there is no id, then it refuses', () => {
    expect(() => idempotencyKeyFor([])).toThrow(RangeError);
  });
});
