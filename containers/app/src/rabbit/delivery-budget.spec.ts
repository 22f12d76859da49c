import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeliveryBudget } from './delivery-budget';

const MB = 1024 * 1024;

describe('DeliveryBudget', () => {
  it('When nothing was received yet, then the configured prefetch is used', () => {
    assert.equal(new DeliveryBudget(64 * MB, 4000).prefetch(), 4000);
  });

  it('When messages are small, then the configured prefetch stays (their bytes never reach the budget)', () => {
    const budget = new DeliveryBudget(64 * MB, 4000);
    for (let i = 0; i < 4000; i++) budget.received(200);
    assert.equal(budget.isOver(), false);
    assert.equal(budget.prefetch(), 4000);
  });

  it('When large messages fill the budget, then it is over, and the prefetch fits the average message in it', () => {
    const budget = new DeliveryBudget(1 * MB, 4000);
    for (let i = 0; i < 3; i++) budget.received(300_000);
    assert.equal(budget.isOver(), false, '900 kB of 1 MiB');
    budget.received(300_000);
    assert.equal(budget.isOver(), true);
    assert.equal(budget.prefetch(), 3, 'three messages of 300 kB fit in 1 MiB');
    assert.equal(budget.mayResume(), false);
  });

  it('When acknowledgements bring the bytes to half the budget, then consuming may resume, not before', () => {
    const budget = new DeliveryBudget(1 * MB, 4000);
    for (let i = 0; i < 4; i++) budget.received(300_000);
    budget.released(300_000);
    budget.released(300_000);
    assert.equal(budget.unackedBytes, 600_000);
    assert.equal(budget.mayResume(), false, '600 kB is over half of 1 MiB');
    budget.released(300_000);
    assert.equal(budget.mayResume(), true);
  });

  it('When one message is larger than the budget, then the prefetch is one', () => {
    const budget = new DeliveryBudget(1 * MB, 4000);
    budget.received(16 * MB);
    assert.equal(budget.prefetch(), 1);
  });

  it('When messages get small again, then a consumer at a low prefetch should be replaced by one at twice or more', () => {
    const budget = new DeliveryBudget(1 * MB, 4000);
    budget.received(300_000);
    assert.equal(budget.prefetch(), 3);
    assert.equal(budget.shouldRaise(3), false);
    let small = 0;
    while (!budget.shouldRaise(3)) {
      budget.received(100);
      budget.released(100);
      small++;
    }
    assert.ok(small > 50 && small < 200, `raised after ${small} small messages`);
    for (let i = 0; i < 3000; i++) budget.received(100);
    assert.equal(budget.prefetch(), 4000, 'capped at the configured prefetch');
    assert.equal(budget.shouldRaise(4000), false);
  });
});
