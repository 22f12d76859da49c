export const ROLES = ['ADMIN', 'SCIENTIST'] as const;
export type Role = (typeof ROLES)[number];

/** A person known to MyMONIT. `name`, `email` and `username` are personal data. */
export class User {
  userId!: string;
  name!: string | null;
  /** The Firebase uid that signs in as this user; null once erased. */
  username!: string | null;
  email!: string | null;
  role!: Role;
  createdAt!: Date;
  updatedAt!: Date;
  erasedAt!: Date | null;

  constructor(fields: Omit<User, 'isErased'>) {
    Object.assign(this, fields);
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
