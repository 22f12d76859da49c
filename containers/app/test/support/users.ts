import { User } from '../../src/model/user';

/** A scientist (S1, Firebase uid `uid-1`) for unit tests of the services. */
export const aScientist = () =>
  new User({
    userId: 'S1',
    name: 'N',
    username: 'uid-1',
    email: 'n@example.org',
    role: 'SCIENTIST',
    createdAt: new Date(),
    updatedAt: new Date(),
    erasedAt: null,
  });
