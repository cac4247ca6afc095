namespace Aof.Core

/// What a key holds. Strings only for now; collections join as the collections issue adds them.
[<RequireQualifiedAccess>]
type Value =
    | Str of byte[]
    /// A string that INCR and friends keep as a number (Redis's `int` encoding): counting needs no parse
    /// and no formatting; readers see its decimal text.
    | Int of int64

module Value =
    /// The bytes a string value reads as.
    let bytes (v: Value) : byte[] voption =
        match v with
        | Value.Str s -> ValueSome s
        | Value.Int n -> ValueSome(Num.formatInt64 n)

/// A key's value and its absolute expiry in Unix milliseconds (`Expiry.none` when it has none).
/// A struct, so the keyspace map is specialised for it by the JIT rather than running shared generic code.
/// Every write that changes a key makes a new `Value` object (a move or rename re-wraps it), so "same value
/// object and same expiry" tells WATCH that a key was not touched.
[<Struct; NoEquality; NoComparison>]
type Entry =
    val Value: Value
    val ExpireAt: int64
    new(value, expireAt) = { Value = value; ExpireAt = expireAt }

module Entry =
    /// Whether two lookups saw the very same write (WATCH's test).
    let sameWrite (a: Entry voption) (b: Entry voption) : bool =
        match a, b with
        | ValueNone, ValueNone -> true
        | ValueSome x, ValueSome y -> obj.ReferenceEquals(x.Value, y.Value) && x.ExpireAt = y.ExpireAt
        | _ -> false

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
            Champ.fold
                (fun (m: Map<string, Value * int64>) k (e: Entry) ->
                    // Encodings are invisible to clients: a counter compares as its text.
                    let v =
                        match e.Value with
                        | Value.Int n -> Value.Str(Num.formatInt64 n)
                        | v -> v

                    m.Add(Bytes.toString k, (v, e.ExpireAt)))
                Map.empty
                db.Keys)
        |> Array.filter (fun (_, m) -> not m.IsEmpty)
        |> Map.ofArray
