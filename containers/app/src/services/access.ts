import { ForbiddenError } from '../errors';
import { isAdmin, type Actor } from '../model/user';

export function requireAdmin(actor: Actor): void {
  if (!isAdmin(actor)) throw new ForbiddenError('this action needs the ADMIN role');
}

/** Admins may act on anyone; a scientist only on themself (answered the same whether the other user exists or not). */
export function requireAdminOrSelf(actor: Actor, userId: string): void {
  if (!isAdmin(actor) && actor.userId !== userId) {
    throw new ForbiddenError('only an admin may act on another user');
  }
}
