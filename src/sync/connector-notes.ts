/**
 * The store's connector notes for one ESP, as the `ConnectorNotes` a connector is given: what it must
 * know across processes (a vendor job a `segsync push` stopped waiting for, a subscription the vendor
 * has not applied yet) is then seen by the next push and by the daemon.
 */
import type { ConnectorNotes } from '../../connectors/connector';
import type { Clock } from '../model/clock';
import type { EspName } from '../model/types';
import type { Store } from '../store/store';

/** `esp`'s notes in `store`, expiring by `clock`. */
export function storeNotes(store: Store, esp: EspName, clock: Clock): ConnectorNotes {
  return {
    get: (kind, keys) => store.connectorNotes(esp, kind, clock.now(), keys),
    put: (kind, entries, expiresAt) => store.putConnectorNotes(esp, kind, entries, expiresAt, clock.now()),
    drop: (kind, keys) => store.dropConnectorNotes(esp, kind, keys),
  };
}
