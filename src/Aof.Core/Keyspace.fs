namespace Aof.Core

/// What a key holds. Strings only for now; collections join as the collections issue adds them.
[<RequireQualifiedAccess>]
type Value = Str of byte[]

/// A key's value and its absolute expiry in Unix milliseconds (`Expiry.none` when it has none).
/// Every write makes a new entry, so reference equality tells whether a key was touched (WATCH uses it).
[<Sealed; AllowNullLiteral>]
type Entry(value: Value, expireAt: int64) =
    member _.Value = value
    member _.ExpireAt = expireAt

module Expiry =
    let none = -1L
    let inline has (e: Entry) = e.ExpireAt <> none
    /// Redis treats a key as gone once `now` passes its expiry time.
    let inline isExpired (now: int64) (e: Entry) = e.ExpireAt <> none && e.ExpireAt <= now

/// One database: the keys, and an index of those with a TTL (Redis's `expires` dict) so INFO can count
/// them and the active expiry cycle can sample only keys that can expire.
type Db =
    { Keys: ChampMap<Entry>
      Expires: ChampMap<int64> }

/// The whole dataset: an immutable value, so a snapshot is a reference copy.
type Keyspace = { Dbs: Db[] }

module Db =
    let empty = { Keys = Champ.empty; Expires = Champ.empty }
    let inline size (db: Db) = Champ.count db.Keys
    let inline tryFind (key: byte[]) (db: Db) = Champ.tryFind key db.Keys

    let set (key: byte[]) (entry: Entry) (db: Db) : Db =
        { Keys = Champ.add key entry db.Keys
          Expires =
            if Expiry.has entry then Champ.add key entry.ExpireAt db.Expires
            elif Champ.isEmpty db.Expires then db.Expires
            else Champ.remove key db.Expires }

    let remove (key: byte[]) (db: Db) : Db =
        { Keys = Champ.remove key db.Keys
          Expires = if Champ.isEmpty db.Expires then db.Expires else Champ.remove key db.Expires }

module Keyspace =
    let defaultDatabases = 16
    let create (databases: int) : Keyspace = { Dbs = Array.create databases Db.empty }
    let empty = create defaultDatabases
    let inline db (i: int) (ks: Keyspace) = ks.Dbs[i]
    let inline databases (ks: Keyspace) = ks.Dbs.Length

    let withDb (i: int) (db: Db) (ks: Keyspace) : Keyspace =
        let dbs = Array.copy ks.Dbs
        dbs[i] <- db
        { Dbs = dbs }

    /// A plain, comparable picture of the dataset for tests and tools: db -> key -> (value, expireAt).
    let toMap (ks: Keyspace) : Map<int, Map<string, Value * int64>> =
        ks.Dbs
        |> Array.mapi (fun i db ->
            i,
            Champ.fold (fun (m: Map<string, Value * int64>) k (e: Entry) -> m.Add(Bytes.toString k, (e.Value, e.ExpireAt))) Map.empty db.Keys)
        |> Array.filter (fun (_, m) -> not m.IsEmpty)
        |> Map.ofArray
