import { doNotLog } from '../logging/faceted';

export const ROLES = ['ADMIN', 'SCIENTIST'] as const;
export type Role = (typeof ROLES)[number];

/**
 * A person known to MyMONIT. `name`, `email` and `username` are personal
 * data: they read `***` inside logging code (see `doNotLog`).
 */
export class User {
  userId!: string;
  @doNotLog name!: string | null;
  /** The Firebase uid that signs in as this user; null once erased. */
  @doNotLog username!: string | null;
  @doNotLog email!: string | null;
  role!: Role;
  createdAt!: Date;
  updatedAt!: Date;
  erasedAt!: Date | null;

  constructor(fields: Omit<User, 'isErased' | 'toJSON'>) {
    // Field by field: the personal fields are accessors, which a spread or Object.assign of a User would miss.
    this.userId = fields.userId;
    this.name = fields.name;
    this.username = fields.username;
    this.email = fields.email;
    this.role = fields.role;
    this.createdAt = fields.createdAt;
    this.updatedAt = fields.updatedAt;
    this.erasedAt = fields.erasedAt;
  }

  /** Every field, read in the caller's context (masked inside logging code). */
  toJSON(): Record<string, unknown> {
    const { userId, name, username, email, role, createdAt, updatedAt, erasedAt } = this;
    return { userId, name, username, email, role, createdAt, updatedAt, erasedAt };
  }

  get isErased(): boolean {
    return this.erasedAt !== null;
  }
}

export interface UserProfile {
  name: string;
  username: string;
  email: string;
  role: Role;
}

/** Who is calling: the authenticated user, reduced to what authorisation needs. */
export interface Actor {
  userId: string;
  role: Role;
}

export const isAdmin = (actor: Actor): boolean => actor.role === 'ADMIN';
