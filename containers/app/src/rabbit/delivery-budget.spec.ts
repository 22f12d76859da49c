import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DeliveryBudget } from './delivery-budget';

const MB = 1024 * 1024;
const budgetOf = (bytes: number, measures = 80_000) => new DeliveryBudget({ bytes, measures }, 4000);
const message = (bytes: number, measures = 1) => ({ bytes, measures });

describe('DeliveryBudget', () => {
  it('When nothing was received yet, then messages are assumed as large as allowed (16 MiB)', () => {
    assert.equal(budgetOf(64 * MB).prefetch(), 4);
    assert.equal(budgetOf(1 * MB).prefetch(), 1);
  });

  it('When the first small message arrives, then the prefetch may go up to the configured one at once', () => {
    const budget = budgetOf(64 * MB);
    budget.received(message(200));
    assert.equal(budget.prefetch(), 4000);
    assert.equal(budget.shouldRaise(4), true);
  });

  it('When messages are small, then the configured prefetch stays (they never reach the budget)', () => {
    const budget = budgetOf(64 * MB);
    for (let i = 0; i < 4000; i++) budget.received(message(200));
    assert.equal(budget.isOver(), false);
    assert.equal(budget.prefetch(), 4000);
  });

  it('When large messages fill the bytes, then the budget is over, and the prefetch fits the average message in it', () => {
    const budget = budgetOf(1 * MB);
    for (let i = 0; i < 3; i++) budget.received(message(300_000));
    assert.equal(budget.isOver(), false, '900 kB of 1 MiB');
    budget.received(message(300_000));
    assert.equal(budget.isOver(), true);
    assert.equal(budget.prefetch(), 3, 'three messages of 300 kB fit in 1 MiB');
    assert.equal(budget.mayResume(), false);
  });

  it('When messages hold many measures, then the measures bound the prefetch and the budget too', () => {
    const budget = budgetOf(64 * MB, 80_000);
    for (let i = 0; i < 80; i++) budget.received(message(100_000, 1_000));
    assert.equal(budget.isOver(), false, '80,000 measures in 8 MB');
    assert.equal(budget.prefetch(), 80, '80 messages of 1,000 measures');
    budget.received(message(100_000, 1_000));
    assert.equal(budget.isOver(), true, '81,000 measures');
  });

  it('When acknowledgements bring the bytes to half the budget, then consuming may resume, not before', () => {
    const budget = budgetOf(1 * MB);
    for (let i = 0; i < 4; i++) budget.received(message(300_000));
    budget.released(message(300_000));
    budget.released(message(300_000));
    assert.equal(budget.unackedBytes, 600_000);
    assert.equal(budget.mayResume(), false, '600 kB is over half of 1 MiB');
    budget.released(message(300_000));
    assert.equal(budget.mayResume(), true);
  });

  it('When one message is larger than the budget, then the prefetch is one', () => {
    const budget = budgetOf(1 * MB);
    budget.received(message(16 * MB));
    assert.equal(budget.prefetch(), 1);
  });

  it('When small messages are followed by large ones, then the average follows within a few messages', () => {
    const budget = budgetOf(64 * MB);
    for (let i = 0; i < 1000; i++) budget.received(message(200));
    for (let i = 0; i < 8; i++) budget.received(message(1 * MB));
    assert.ok(budget.prefetch() < 100, `prefetch ${budget.prefetch()} after 8 messages of 1 MiB`);
  });

  it('When messages get small again, then a consumer at a low prefetch should be replaced by one at twice or more, once half the budget is free', () => {
    const budget = budgetOf(1 * MB);
    budget.received(message(300_000));
    assert.equal(budget.prefetch(), 3);
    assert.equal(budget.shouldRaise(3), false);
    budget.released(message(300_000));
    let small = 0;
    while (!budget.shouldRaise(3)) {
      budget.received(message(100));
      budget.released(message(100));
      small++;
    }
    assert.ok(small > 50 && small < 200, `raised after ${small} small messages`);
    budget.received(message(600_000));
    assert.equal(budget.shouldRaise(1), false, 'not while more than half the budget is held');
    budget.released(message(600_000));
    for (let i = 0; i < 3000; i++) budget.received(message(100));
    assert.equal(budget.prefetch(), 4000, 'capped at the configured prefetch');
    assert.equal(budget.shouldRaise(4000), false);
  });

  it('When a delivery would take what is held past twice the budget, then it is to be handed back, and its size still raises the average', () => {
    const budget = budgetOf(1 * MB);
    for (let i = 0; i < 1000; i++) budget.received(message(200));
    assert.equal(budget.prefetch(), 4000);
    budget.received(message(900 * 1024)); // under twice the budget with it: held
    assert.equal(budget.mustHandBack(900 * 1024), false, 'at 1.76 MiB, still within twice the budget');
    budget.received(message(900 * 1024));
    assert.equal(budget.mustHandBack(900 * 1024), true, 'it would pass 2 MiB');
    budget.handedBack(900 * 1024);
    assert.ok(budget.prefetch() < 8, `the prefetch fits the larger messages now (${budget.prefetch()})`);
  });

  it('When nothing is held, then even a message larger than the whole budget is taken', () => {
    const budget = budgetOf(1 * MB);
    assert.equal(budget.mustHandBack(16 * MB), false);
    budget.received(message(16 * MB));
    assert.equal(budget.mustHandBack(200), true, 'and nothing more beside it');
    budget.released(message(16 * MB));
    assert.equal(budget.mustHandBack(16 * MB), false);
  });

  it('When the measures held pass twice their bound, then deliveries are handed back whatever their bytes', () => {
    const budget = budgetOf(64 * MB, 1_000);
    budget.received(message(100_000, 2_001));
    assert.equal(budget.mustHandBack(100), true);
  });

  it('When a delivery larger than one and a half budgets was handed back, then deliveries resume only once nothing is held, so that it is taken when it comes again', () => {
    const budget = budgetOf(1 * MB);
    budget.received(message(100 * 1024));
    assert.equal(budget.mustHandBack(2 * MB), true);
    budget.handedBack(2 * MB);
    assert.equal(budget.mayResume(), false, 'under half the budget, but it would be handed back again');
    budget.released(message(100 * 1024));
    assert.equal(budget.mayResume(), true);
    assert.equal(budget.mustHandBack(2 * MB), false, 'taken alone');
    budget.received(message(2 * MB));
    budget.released(message(2 * MB));
    budget.received(message(100 * 1024));
    assert.equal(budget.mayResume(), true, 'once taken, it no longer holds deliveries back');
  });
});
