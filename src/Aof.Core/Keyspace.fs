namespace Aof.Core

/// What a key holds. Every case is immutable and structurally shared, so a snapshot stays a reference copy.
[<RequireQualifiedAccess>]
type Value =
    | Str of byte[]
    /// A string that INCR and friends keep as a number (Redis's `int` encoding): counting needs no parse
    /// and no formatting; readers see its decimal text.
    | Int of int64
    | List of PList
    /// field -> value
    | Hash of ChampMap<byte[]>
    | Set of ChampMap<unit>
    | ZSet of ZSet

/// A value as plain, comparable F# data: what tests and tools compare (encodings are invisible to clients).
[<RequireQualifiedAccess>]
type Plain =
    | Str of byte[]
    | List of byte[] list
    | Hash of Map<string, byte[]>
    | Set of Set<string>
    /// In order: (score, member).
    | ZSet of (float * string) list

module Value =
    /// The bytes a string value reads as.
    let bytes (v: Value) : byte[] voption =
        match v with
        | Value.Str s -> ValueSome s
        | Value.Int n -> ValueSome(Num.formatInt64 n)
        | Value.List _
        | Value.Hash _
        | Value.Set _
        | Value.ZSet _ -> ValueNone

    /// What TYPE answers.
    let typeName (v: Value) : string =
        match v with
        | Value.Str _
        | Value.Int _ -> "string"
        | Value.List _ -> "list"
        | Value.Hash _ -> "hash"
        | Value.Set _ -> "set"
        | Value.ZSet _ -> "zset"

    /// The same value under a new identity: a key that moved or was copied is a key that was written (WATCH).
    let rewrap (v: Value) : Value =
        match v with
        | Value.Str s -> Value.Str s
        | Value.Int n -> Value.Int n
        | Value.List l -> Value.List l
        | Value.Hash h -> Value.Hash h
        | Value.Set s -> Value.Set s
        | Value.ZSet z -> Value.ZSet z

    let toPlain (v: Value) : Plain =
        match v with
        | Value.Str s -> Plain.Str s
        | Value.Int n -> Plain.Str(Num.formatInt64 n)
        | Value.List l -> Plain.List(List.ofSeq (PList.toSeq l))
        | Value.Hash h -> Plain.Hash(Champ.fold (fun (m: Map<string, byte[]>) k v -> m.Add(Bytes.toString k, v)) Map.empty h)
        | Value.Set s -> Plain.Set(Champ.fold (fun (m: Set<string>) k () -> m.Add(Bytes.toString k)) Set.empty s)
        | Value.ZSet z -> Plain.ZSet [ for struct (m, score) in ZSet.toSeq z -> score, Bytes.toString m ]

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
      Expires: ChampMap<int64>
      /// Who may edit these maps in place: null (every update copies its path, the value semantics every
      /// pure caller sees) or the executor's owner, which edits its own nodes between snapshots (see
      /// Keyspace.own).
      Owner: ChampOwner }

/// The whole dataset: an immutable value, so a snapshot is a reference copy. Database 0, where nearly every
/// client works, has a field of its own: a write there allocates one small record instead of copying the
/// array of every database (that copy was a sixth of a SET's cost in the server).
type Keyspace =
    { Db0: Db
      /// Databases 1 and up.
      Rest: Db[] }

    /// Every database, in order: a fresh array, for the paths that walk them all.
    member ks.Dbs = Array.append [| ks.Db0 |] ks.Rest

module Db =
    let empty = { Keys = Champ.empty; Expires = Champ.empty; Owner = null }
    let inline size (db: Db) = Champ.count db.Keys
    let inline tryFind (key: byte[]) (db: Db) = Champ.tryFind key db.Keys

    let set (key: byte[]) (entry: Entry) (db: Db) : Db =
        { Keys = Champ.addIn db.Owner key entry db.Keys
          Expires =
            if Expiry.has entry then Champ.addIn db.Owner key entry.ExpireAt db.Expires
            elif Champ.isEmpty db.Expires then db.Expires
            else Champ.removeIn db.Owner key db.Expires
          Owner = db.Owner }

    /// The same database for edits that are only a draft (a decision looking ahead, a sampling loop): they
    /// copy paths as persistent updates do and never touch an owner's maps in place.
    let draft (db: Db) : Db =
        if isNull db.Owner then db else { db with Owner = null }

    let remove (key: byte[]) (db: Db) : Db =
        { Keys = Champ.removeIn db.Owner key db.Keys
          Expires = if Champ.isEmpty db.Expires then db.Expires else Champ.removeIn db.Owner key db.Expires
          Owner = db.Owner }

    /// Sets several keys to strings without a TTL (MSET) through a transient, so the paths they share are
    /// copied once instead of once per key.
    let setStrings (pairs: (byte[] * byte[])[]) (db: Db) : Db =
        if pairs.Length = 1 then
            let k, v = pairs[0]
            set k (Entry(Value.Str v, Expiry.none)) db
        else
            let keys = Champ.toTransient db.Keys
            let mutable expires = db.Expires

            for k, v in pairs do
                keys.Set(k, Entry(Value.Str v, Expiry.none))
                if not (Champ.isEmpty expires) then expires <- Champ.remove k expires

            { Keys = keys.Persist(); Expires = expires; Owner = db.Owner }

    /// Removes several keys (DEL, UNLINK) through a transient.
    let removeMany (keys: byte[][]) (db: Db) : Db =
        if keys.Length = 1 then
            remove keys[0] db
        else
            let t = Champ.toTransient db.Keys
            let mutable expires = db.Expires

            for k in keys do
                t.Remove k
                if not (Champ.isEmpty expires) then expires <- Champ.remove k expires

            { Keys = t.Persist(); Expires = expires; Owner = db.Owner }

module Keyspace =
    let defaultDatabases = 16
    let create (databases: int) : Keyspace =
        { Db0 = Db.empty
          Rest = Array.create (databases - 1) Db.empty }

    let empty = create defaultDatabases

    /// The databases of `dbs`, in order (at least one).
    let ofArray (dbs: Db[]) : Keyspace =
        { Db0 = dbs[0]
          Rest = Array.sub dbs 1 (dbs.Length - 1) }

    let inline db (i: int) (ks: Keyspace) = if i = 0 then ks.Db0 else ks.Rest[i - 1]
    let inline databases (ks: Keyspace) = ks.Rest.Length + 1

    let withDb (i: int) (db: Db) (ks: Keyspace) : Keyspace =
        if i = 0 then
            { ks with Db0 = db }
        else
            let rest = Array.copy ks.Rest
            rest[i - 1] <- db
            { ks with Rest = rest }

    /// The same dataset, its maps from now on edited in place by `owner` wherever it created the nodes: the
    /// executor's live keyspace between snapshots, so that a write stops copying the path to its key (with
    /// a million keys that copy, a kilobyte a write, outlived the young generation and made the collector
    /// pause the server for milliseconds). Whoever owns it must use only the newest keyspace it made, and
    /// must hand others `frozen` copies taken under a new owner.
    let own (owner: ChampOwner) (ks: Keyspace) : Keyspace =
        let owned (db: Db) = if obj.ReferenceEquals(db.Owner, owner) then db else { db with Owner = owner }
        { Db0 = owned ks.Db0; Rest = Array.map owned ks.Rest }

    /// The same dataset with no owner: a value no later write can change, once its former owner is retired
    /// (every write after that copies the nodes the old owner made, as any persistent update does).
    let frozen (ks: Keyspace) : Keyspace =
        let plain (db: Db) = if isNull db.Owner then db else { db with Owner = null }
        { Db0 = plain ks.Db0; Rest = Array.map plain ks.Rest }

    /// Whether every database is owned by `owner`. Asked before every batch, so it allocates nothing.
    let ownedBy (owner: ChampOwner) (ks: Keyspace) : bool =
        let mutable all = obj.ReferenceEquals(ks.Db0.Owner, owner)
        let mutable i = 0

        while all && i < ks.Rest.Length do
            all <- obj.ReferenceEquals(ks.Rest[i].Owner, owner)
            i <- i + 1

        all

    /// A plain, comparable picture of the dataset for tests and tools: db -> key -> (value, expireAt).
    let toMap (ks: Keyspace) : Map<int, Map<string, Plain * int64>> =
        ks.Dbs
        |> Array.mapi (fun i db ->
            i,
            Champ.fold
                (fun (m: Map<string, Plain * int64>) k (e: Entry) -> m.Add(Bytes.toString k, (Value.toPlain e.Value, e.ExpireAt)))
                Map.empty
                db.Keys)
        |> Array.filter (fun (_, m) -> not m.IsEmpty)
        |> Map.ofArray
