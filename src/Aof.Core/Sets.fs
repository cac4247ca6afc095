namespace Aof.Core

/// How SINTER, SUNION and SDIFF (and their STORE forms) combine their sets.
[<RequireQualifiedAccess>]
type SetAlgebra =
    | Inter
    | Union
    | Diff

/// A set command, parsed with Redis 7.0's arity and syntax errors.
[<RequireQualifiedAccess>]
type SetCommand =
    | Add of key: byte[] * members: byte[][]
    | Rem of key: byte[] * members: byte[][]
    | Members of key: byte[]
    | IsMember of key: byte[] * ``member``: byte[]
    | MIsMember of key: byte[] * members: byte[][]
    | Card of key: byte[]
    /// SPOP; `count` is non-negative when given.
    | Pop of key: byte[] * count: int64 voption
    /// SRANDMEMBER; a negative count asks for that many draws with repeats.
    | RandMember of key: byte[] * count: int64 voption
    | Move of source: byte[] * destination: byte[] * ``member``: byte[]
    /// SINTER, SUNION, SDIFF.
    | Combine of algebra: SetAlgebra * keys: byte[][]
    /// SINTERCARD; `limit` 0 means none.
    | InterCard of keys: byte[][] * limit: int64
    /// SINTERSTORE, SUNIONSTORE, SDIFFSTORE.
    | Store of algebra: SetAlgebra * destination: byte[] * keys: byte[][]
    /// SSCAN. Redis reads the options only once it has found a set at the key, so a bad option is an
    /// error only then: it waits here.
    | Scan of key: byte[] * cursor: uint64 * options: Result<ScanOptions, Reply>

/// A deterministic set fact, exactly as it lands in the AOF (commands real Redis 7 also reads).
[<RequireQualifiedAccess>]
type SetOp =
    /// SADD: SADD as given, and the rewrite's chunks.
    | Add of key: byte[] * members: byte[][]
    /// SREM: SREM as given, and every random removal (SPOP) with the members it chose.
    | Rem of key: byte[] * members: byte[][]
    /// SMOVE, which is deterministic as it stands.
    | Move of source: byte[] * destination: byte[] * ``member``: byte[]
    /// The STORE commands as given: deterministic over the state they are applied to, one line however
    /// large the result, and what real Redis writes too (so its AOFs load here).
    | Store of algebra: SetAlgebra * destination: byte[] * keys: byte[][]

/// The set algebra, shared by decide (replies, sizes) and evolve (STORE), so both compute the same result.
module SetAlgebra =
    let private missing: ChampMap<unit> = Champ.empty

    /// Members of `first` also in every other set: walks the smallest set, probes the rest.
    let private inter (sets: ChampMap<unit>[]) : ChampMap<unit> =
        if sets |> Array.exists Champ.isEmpty then
            missing
        else
            let ordered = Array.sortBy Champ.count sets
            let smallest = ordered[0]
            let t = Champ.toTransient missing

            smallest
            |> Champ.iter (fun m () ->
                let mutable inAll = true
                let mutable i = 1

                while inAll && i < ordered.Length do
                    inAll <- Champ.containsKey m ordered[i]
                    i <- i + 1

                if inAll then t.Set(m, ()))

            // Everything kept: share the smallest set itself rather than a copy.
            if t.Count = Champ.count smallest then smallest else t.Persist()

    /// Grows the largest set with the others' members, so its structure is shared and only the other sets
    /// are walked.
    let private union (sets: ChampMap<unit>[]) : ChampMap<unit> =
        let largest = sets |> Array.maxBy Champ.count
        let others = sets |> Array.filter (fun s -> not (obj.ReferenceEquals(s, largest)))

        if others |> Array.forall Champ.isEmpty then
            largest
        else
            let t = Champ.toTransient largest

            for s in others do
                s |> Champ.iter (fun m () -> t.Set(m, ()))

            t.Persist()

    /// Like Redis, picks the cheaper of probing every other set for each member of the first, and removing
    /// every member of the others from a copy of the first.
    let private diff (sets: ChampMap<unit>[]) : ChampMap<unit> =
        let first = sets[0]
        let others = sets[1..] |> Array.filter (fun s -> not (Champ.isEmpty s))

        if Champ.isEmpty first || others.Length = 0 then
            first
        elif others |> Array.exists (fun s -> obj.ReferenceEquals(s, first)) then
            missing
        else
            let probeCost = int64 (Champ.count first) * int64 others.Length
            let removeCost = others |> Array.sumBy (fun s -> int64 (Champ.count s))

            if probeCost <= removeCost then
                let t = Champ.toTransient missing

                first
                |> Champ.iter (fun m () ->
                    if not (others |> Array.exists (Champ.containsKey m)) then t.Set(m, ()))

                t.Persist()
            else
                let t = Champ.toTransient first

                for s in others do
                    s |> Champ.iter (fun m () -> t.Remove m)

                t.Persist()

    /// The combination of `sets`, in key order (a missing key is an empty set); at least one set.
    let combine (algebra: SetAlgebra) (sets: ChampMap<unit>[]) : ChampMap<unit> =
        match algebra with
        | SetAlgebra.Inter -> inter sets
        | SetAlgebra.Union -> union sets
        | SetAlgebra.Diff -> diff sets

    /// SINTERCARD: the size of the intersection, counting stopped at `limit` (0 = no limit).
    let interCount (limit: int64) (sets: ChampMap<unit>[]) : int64 =
        if sets |> Array.exists Champ.isEmpty then
            0L
        else
            let ordered = Array.sortBy Champ.count sets
            let mutable n = 0L

            // A fold cannot stop early; the sequence can, once the limit is reached.
            use e = (Champ.toSeq ordered[0]).GetEnumerator()

            while (limit = 0L || n < limit) && e.MoveNext() do
                let m = fst e.Current
                let mutable inAll = true
                let mutable i = 1

                while inAll && i < ordered.Length do
                    inAll <- Champ.containsKey m ordered[i]
                    i <- i + 1

                if inAll then n <- n + 1L

            n

module SetCommand =
    let private ok (c: SetCommand) : Result<SetCommand, Reply> = Ok c

    let private mustBePositive = Reply.Error "ERR value is out of range, must be positive"

    /// SPOP's count: any non-integer and any negative number get the same error.
    let private popCount (b: byte[]) : Result<int64, Reply> =
        match Num.tryParseInt64 b with
        | ValueSome n when n >= 0L -> Ok n
        | _ -> Error mustBePositive

    /// SRANDMEMBER's count: an integer whose negation is one too (so not int64's minimum).
    let private randCount (b: byte[]) : Result<int64, Reply> =
        match Num.tryParseInt64 b with
        | ValueNone -> Error Reply.notInteger
        | ValueSome n when n = System.Int64.MinValue ->
            Error(Reply.Error "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
        | ValueSome n -> Ok n

    let private sintercard (a: byte[][]) : Result<SetCommand, Reply> =
        match Num.tryParseInt64 a[1] with
        | ValueSome n when n >= 1L ->
            if n > int64 (a.Length - 2) then
                Error(Reply.Error "ERR Number of keys can't be greater than number of args")
            else
                let keys = a[2 .. 1 + int n]

                let rec options i limit =
                    if i >= a.Length then
                        ok (SetCommand.InterCard(keys, limit))
                    elif Bytes.eqLower "limit" a[i] && i + 1 < a.Length then
                        match Num.tryParseInt64 a[i + 1] with
                        | ValueSome l when l >= 0L -> options (i + 2) l
                        | _ -> Error(Reply.Error "ERR LIMIT can't be negative")
                    else
                        Error Reply.syntaxError

                options (2 + int n) 0L
        | _ -> Error(Reply.Error "ERR numkeys should be greater than 0")

    let private optionalCount (parse: byte[] -> Result<int64, Reply>) (mk: int64 voption -> SetCommand) (a: byte[][]) =
        match a.Length with
        | 2 -> ok (mk ValueNone)
        | 3 -> parse a[2] |> Result.map (ValueSome >> mk)
        | _ -> Error Reply.syntaxError

    /// (name, arity, writes, parser): joined into the command table.
    let specs: (string * int * bool * (byte[][] -> Result<SetCommand, Reply>)) list =
        [ "sadd", -3, true, (fun a -> ok (SetCommand.Add(a[1], a[2..])))
          "srem", -3, true, (fun a -> ok (SetCommand.Rem(a[1], a[2..])))
          "smembers", 2, false, (fun a -> ok (SetCommand.Members a[1]))
          "sismember", 3, false, (fun a -> ok (SetCommand.IsMember(a[1], a[2])))
          "smismember", -3, false, (fun a -> ok (SetCommand.MIsMember(a[1], a[2..])))
          "scard", 2, false, (fun a -> ok (SetCommand.Card a[1]))
          "spop", -2, true, (fun a -> optionalCount popCount (fun c -> SetCommand.Pop(a[1], c)) a)
          "srandmember", -2, false, (fun a -> optionalCount randCount (fun c -> SetCommand.RandMember(a[1], c)) a)
          "smove", 4, true, (fun a -> ok (SetCommand.Move(a[1], a[2], a[3])))
          "sinter", -2, false, (fun a -> ok (SetCommand.Combine(SetAlgebra.Inter, a[1..])))
          "sunion", -2, false, (fun a -> ok (SetCommand.Combine(SetAlgebra.Union, a[1..])))
          "sdiff", -2, false, (fun a -> ok (SetCommand.Combine(SetAlgebra.Diff, a[1..])))
          "sintercard", -3, false, sintercard
          "sinterstore", -3, true, (fun a -> ok (SetCommand.Store(SetAlgebra.Inter, a[1], a[2..])))
          "sunionstore", -3, true, (fun a -> ok (SetCommand.Store(SetAlgebra.Union, a[1], a[2..])))
          "sdiffstore", -3, true, (fun a -> ok (SetCommand.Store(SetAlgebra.Diff, a[1], a[2..])))
          "sscan", -3, false,
          (fun a ->
              match Scan.parseCursor a[2] with
              | ValueNone -> Error(Reply.Error "ERR invalid cursor")
              | ValueSome cursor -> ok (SetCommand.Scan(a[1], cursor, Scan.options a 3))) ]

    /// The keys of the session's database the command reads or writes: lazy expiry purges these first,
    /// and a blocking command waits on them.
    let keys (cmd: SetCommand) : byte[][] =
        match cmd with
        | SetCommand.Add(k, _)
        | SetCommand.Rem(k, _)
        | SetCommand.Members k
        | SetCommand.IsMember(k, _)
        | SetCommand.MIsMember(k, _)
        | SetCommand.Card k
        | SetCommand.Pop(k, _)
        | SetCommand.RandMember(k, _)
        | SetCommand.Scan(k, _, _) -> [| k |]
        | SetCommand.Move(s, d, _) -> [| s; d |]
        | SetCommand.Combine(_, ks)
        | SetCommand.InterCard(ks, _) -> ks
        | SetCommand.Store(_, d, ks) -> Array.append [| d |] ks

module SetOp =
    // Command names are encoded once.
    let private sadd = "SADD"B
    let private srem = "SREM"B
    let private smove = "SMOVE"B
    let private sinterstore = "SINTERSTORE"B
    let private sunionstore = "SUNIONSTORE"B
    let private sdiffstore = "SDIFFSTORE"B

    /// The RESP command that records the op.
    let toArgs (op: SetOp) : byte[][] =
        match op with
        | SetOp.Add(k, ms) -> Args.withKey sadd k ms
        | SetOp.Rem(k, ms) -> Args.withKey srem k ms
        | SetOp.Move(s, d, m) -> [| smove; s; d; m |]
        | SetOp.Store(SetAlgebra.Inter, d, ks) -> Args.withKey sinterstore d ks
        | SetOp.Store(SetAlgebra.Union, d, ks) -> Args.withKey sunionstore d ks
        | SetOp.Store(SetAlgebra.Diff, d, ks) -> Args.withKey sdiffstore d ks

    /// Reads back a logged command whose lower-cased name is `name`; ValueNone when it is not a set command.
    let ofArgs (name: string) (args: byte[][]) : Result<SetOp, unit> voption =
        let atLeast3 (mk: byte[] -> byte[][] -> SetOp) =
            ValueSome(if args.Length >= 3 then Ok(mk args[1] args[2..]) else Error())

        match name with
        | "sadd" -> atLeast3 (fun k ms -> SetOp.Add(k, ms))
        | "srem" -> atLeast3 (fun k ms -> SetOp.Rem(k, ms))
        | "smove" -> ValueSome(if args.Length = 4 then Ok(SetOp.Move(args[1], args[2], args[3])) else Error())
        | "sinterstore" -> atLeast3 (fun d ks -> SetOp.Store(SetAlgebra.Inter, d, ks))
        | "sunionstore" -> atLeast3 (fun d ks -> SetOp.Store(SetAlgebra.Union, d, ks))
        | "sdiffstore" -> atLeast3 (fun d ks -> SetOp.Store(SetAlgebra.Diff, d, ks))
        | _ -> ValueNone

    /// The keys the op writes: clients blocked on them are looked at again.
    let keys (op: SetOp) : byte[][] =
        match op with
        | SetOp.Add(k, _)
        | SetOp.Rem(k, _) -> [| k |]
        | SetOp.Move(s, d, _) -> [| s; d |]
        | SetOp.Store(_, d, _) -> [| d |]

    /// The set at `key`: ValueNone when the key is missing or holds another type.
    let private setAt (key: byte[]) (db: Db) : struct (ChampMap<unit> * int64) voption =
        match Db.tryFind key db with
        | ValueSome e ->
            match e.Value with
            | Value.Set s -> ValueSome(struct (s, e.ExpireAt))
            | _ -> ValueNone
        | ValueNone -> ValueNone

    /// The set with `members` added.
    let addAll (s: ChampMap<unit>) (members: byte[][]) : ChampMap<unit> =
        if members.Length = 1 then
            Champ.add members[0] () s
        else
            let t = Champ.toTransient s

            for m in members do
                t.Set(m, ())

            t.Persist()

    let private removeAll (s: ChampMap<unit>) (members: byte[][]) : ChampMap<unit> =
        if members.Length = 1 then
            Champ.remove members[0] s
        else
            let t = Champ.toTransient s

            for m in members do
                t.Remove m

            t.Persist()

    /// A set written back under its key, keeping the key's TTL; an emptied set takes the key with it.
    let private put (key: byte[]) (s: ChampMap<unit>) (expireAt: int64) (db: Db) : Db =
        if Champ.isEmpty s then Db.remove key db else Db.set key (Entry(Value.Set s, expireAt)) db

    /// A key holding another type is left alone by every op, as Redis refuses such a command when it loads
    /// it; decide never logs one.
    let private holdsOther (key: byte[]) (db: Db) : bool =
        match Db.tryFind key db with
        | ValueSome e ->
            match e.Value with
            | Value.Set _ -> false
            | _ -> true
        | ValueNone -> false

    /// evolve, within the op's database. An emptied collection disappears.
    let apply (op: SetOp) (db: Db) : Db =
        match op with
        | SetOp.Add(k, ms) ->
            match setAt k db with
            | ValueSome(struct (s, at)) -> put k (addAll s ms) at db
            | ValueNone when holdsOther k db -> db
            | ValueNone -> put k (addAll Champ.empty ms) Expiry.none db
        | SetOp.Rem(k, ms) ->
            match setAt k db with
            | ValueSome(struct (s, at)) -> put k (removeAll s ms) at db
            | ValueNone -> db
        | SetOp.Move(src, dst, m) ->
            match setAt src db with
            | ValueSome(struct (s, at)) when Champ.containsKey m s && not (Bytes.equal src dst) && not (holdsOther dst db) ->
                let db = put src (Champ.remove m s) at db

                match setAt dst db with
                | ValueSome(struct (d, dAt)) -> put dst (Champ.add m () d) dAt db
                | ValueNone -> put dst (Champ.add m () Champ.empty) Expiry.none db
            | _ -> db
        | SetOp.Store(algebra, dst, ks) ->
            let sets =
                ks
                |> Array.map (fun k ->
                    match setAt k db with
                    | ValueSome(struct (s, _)) -> s
                    | ValueNone -> Champ.empty)

            // The destination is replaced whatever it held, and loses any TTL.
            put dst (SetAlgebra.combine algebra sets) Expiry.none db

    /// Redis's AOF_REWRITE_ITEMS_PER_CMD.
    [<Literal>]
    let private ItemsPerCommand = 64

    /// The rewrite of one key: the fewest ops that rebuild the value, at most 64 elements each.
    let project (key: byte[]) (s: ChampMap<unit>) : SetOp list =
        Champ.chunks ItemsPerCommand (fun m () -> m) s |> List.map (fun members -> SetOp.Add(key, members))
