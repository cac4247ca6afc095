namespace Aof.Core

open System
open System.Collections.Generic

/// The set commands' decisions. Replies and errors are Redis 7.0's (checked against redis-server 7.0.15);
/// random picks come from the command's one random number and are logged as the members picked.
module SetsDecide =
    open Outcome

    let private find (db: Db) (key: byte[]) : Lookup<ChampMap<unit>> =
        Lookup.find (fun v -> match v with Value.Set s -> ValueSome s | _ -> ValueNone) db key

    let private setOp (dbi: int) (op: SetOp) : Event = evt dbi (Op.Sets op)

    /// The command's draws from its one random number: SplitMix64 seeded with it, so the seed determines
    /// every pick (a test can replay it) and even a poor seed (a counter, say) gives well-spread bits.
    [<Sealed>]
    type private Draws(seed: uint64) =
        let mutable state = seed

        member _.Next() : uint64 =
            let r = SplitMix.next state
            state <- state + SplitMix.Golden
            r

    /// The first of `Draws(seed)`, without the object: what a single pick uses.
    let private firstDraw (seed: uint64) : uint64 = SplitMix.next seed

    let private membersOf (s: ChampMap<unit>) : byte[][] =
        let all = Array.zeroCreate (Champ.count s)
        Champ.fold (fun i m () -> all[i] <- m; i + 1) 0 s |> ignore
        all

    let private bulks (members: byte[][]) : Reply = Reply.Array(Array.map Reply.Bulk members)

    /// Up to this size a pick is exactly uniform: it walks to a drawn position, bounded work. A larger set
    /// takes the trie's random descent, O(depth) like Redis's O(1) pick, but skewed a little by where a
    /// member sits (some members come up a few times more often than others).
    [<Literal>]
    let private ExactPickLimit = 128

    let private randomMember (rnd: uint64) (s: ChampMap<unit>) : byte[] =
        let n = Champ.count s

        if n = 0 then
            invalidOp "a random member of an empty set"
        elif n <= ExactPickLimit then
            let target = int (rnd % uint64 n)

            let struct (_, picked) =
                Champ.fold (fun (struct (i, picked: byte[])) m () -> struct (i + 1, (if i = target then m else picked))) (struct (0, null)) s

            picked
        else
            match Champ.randomEntry rnd s with
            | ValueSome(m, ()) -> m
            | ValueNone -> invalidOp "a random member of an empty set"

    /// `count` distinct members of `s`, 0 < count < size. Like Redis, a sample that is a large part of
    /// the set (or of a small set) shuffles the members (O(size)); a small one draws and rejects repeats
    /// (O(count)), falling back to the shuffle should the trie's skew make repeats pile up.
    let private sample (draws: Draws) (count: int) (s: ChampMap<unit>) : byte[][] =
        let shuffledPrefix () =
            let all = membersOf s

            for i in 0 .. count - 1 do
                let j = i + int (draws.Next() % uint64 (all.Length - i))
                let t = all[i]
                all[i] <- all[j]
                all[j] <- t

            Array.sub all 0 count

        if count * 3 > Champ.count s || Champ.count s <= ExactPickLimit then
            shuffledPrefix ()
        else
            let seen = HashSet<byte[]>(count, BytesComparer.Instance)
            let out = Array.zeroCreate count
            let mutable got = 0
            let mutable tries = 0
            let patience = 16 * count + 64

            while got < count && tries < patience do
                let m = randomMember (draws.Next()) s

                if seen.Add m then
                    out[got] <- m
                    got <- got + 1

                tries <- tries + 1

            if got = count then out else shuffledPrefix ()

    /// How many distinct members of `ms` satisfy `pred`: a repeated member counts once, as in Redis.
    let private countDistinct (ms: byte[][]) (pred: byte[] -> bool) : int =
        if ms.Length <= 8 then
            // Few members (nearly every call): compare pairwise rather than build a hash set.
            let mutable n = 0

            for i in 0 .. ms.Length - 1 do
                let m = ms[i]
                let mutable repeat = false
                let mutable j = 0

                while not repeat && j < i do
                    repeat <- Bytes.equal ms[j] m
                    j <- j + 1

                if not repeat && pred m then n <- n + 1

            n
        else
            let seen = HashSet<byte[]>(ms.Length, BytesComparer.Instance)
            let mutable n = 0

            for m in ms do
                if seen.Add m && pred m then n <- n + 1

            n

    let private sadd (dbi: int) (db: Db) (k: byte[]) (ms: byte[][]) =
        let added =
            match find db k with
            | WrongType -> -1
            | Missing -> countDistinct ms (fun _ -> true)
            | Found(s, _) -> countDistinct ms (fun m -> not (Champ.containsKey m s))

        if added < 0 then reply Reply.wrongType
        elif added = 0 then reply Reply.zero
        else write (Reply.Integer(int64 added)) [ setOp dbi (SetOp.Add(k, ms)) ]

    let private srem (dbi: int) (db: Db) (k: byte[]) (ms: byte[][]) =
        match find db k with
        | WrongType -> reply Reply.wrongType
        | Missing -> reply Reply.zero
        | Found(s, _) ->
            match countDistinct ms (fun m -> Champ.containsKey m s) with
            | 0 -> reply Reply.zero
            | removed -> write (Reply.Integer(int64 removed)) [ setOp dbi (SetOp.Rem(k, ms)) ]

    let private smembers (db: Db) (k: byte[]) =
        match find db k with
        | WrongType -> reply Reply.wrongType
        | Missing -> read false Reply.emptyArray
        | Found(s, _) -> read true (bulks (membersOf s))

    let private sismember (db: Db) (k: byte[]) (m: byte[]) =
        match find db k with
        | WrongType -> reply Reply.wrongType
        | Missing -> read false Reply.zero
        | Found(s, _) -> read true (if Champ.containsKey m s then Reply.one else Reply.zero)

    let private smismember (db: Db) (k: byte[]) (ms: byte[][]) =
        match find db k with
        | WrongType -> reply Reply.wrongType
        | Missing -> read false (Reply.Array(Array.create ms.Length Reply.zero))
        | Found(s, _) -> read true (Reply.Array(ms |> Array.map (fun m -> if Champ.containsKey m s then Reply.one else Reply.zero)))

    let private scard (db: Db) (k: byte[]) =
        match find db k with
        | WrongType -> reply Reply.wrongType
        | Missing -> read false Reply.zero
        | Found(s, _) -> read true (Reply.Integer(int64 (Champ.count s)))

    let private spop (ctx: Ctx) (dbi: int) (db: Db) (k: byte[]) (count: int64 voption) =
        match find db k, count with
        | WrongType, _ -> reply Reply.wrongType
        | Missing, ValueNone -> reply Reply.Nil
        | Missing, ValueSome _ -> reply Reply.emptyArray
        | Found(s, _), ValueNone ->
            let m = randomMember (firstDraw ctx.Random) s
            write (Reply.Bulk m) [ setOp dbi (SetOp.Rem(k, [| m |])) ]
        | Found(_, _), ValueSome 0L -> reply Reply.emptyArray
        | Found(s, _), ValueSome c when c >= int64 (Champ.count s) ->
            // The whole set: one DEL says it shortest, as Redis logs it too.
            write (bulks (membersOf s)) [ evt dbi (Op.Del [| k |]) ]
        | Found(s, _), ValueSome c ->
            let chosen = sample (Draws ctx.Random) (int c) s
            write (bulks chosen) [ setOp dbi (SetOp.Rem(k, chosen)) ]

    /// More draws than any array can hold: Redis would run out of memory trying.
    let private tooManyDraws = Reply.Error "ERR value is out of range"

    let private srandmember (ctx: Ctx) (db: Db) (k: byte[]) (count: int64 voption) =
        match find db k, count with
        | WrongType, _ -> reply Reply.wrongType
        | Missing, ValueNone -> read false Reply.Nil
        | Missing, ValueSome _ -> read false Reply.emptyArray
        | Found(s, _), ValueNone -> read true (Reply.Bulk(randomMember (firstDraw ctx.Random) s))
        | Found(_, _), ValueSome 0L -> read true Reply.emptyArray
        | Found(s, _), ValueSome c when c >= int64 (Champ.count s) -> read true (bulks (membersOf s))
        | Found(s, _), ValueSome c when c > 0L -> read true (bulks (sample (Draws ctx.Random) (int c) s))
        | Found(_, _), ValueSome c when -c > int64 Array.MaxLength -> reply tooManyDraws
        | Found(s, _), ValueSome c ->
            // A negative count: that many independent draws, repeats allowed. A small set, or one drawn from
            // at least as often as it has members, is listed once and indexed: uniform and cheaper.
            let draws = Draws ctx.Random
            let n = Champ.count s

            if n <= ExactPickLimit || -c >= int64 n then
                let all = membersOf s
                read true (Reply.Array(Array.init (int -c) (fun _ -> Reply.Bulk all[int (draws.Next() % uint64 n)])))
            else
                read true (Reply.Array(Array.init (int -c) (fun _ -> Reply.Bulk(randomMember (draws.Next()) s))))

    let private smove (dbi: int) (db: Db) (src: byte[]) (dst: byte[]) (m: byte[]) =
        // Redis answers 0 for a missing source before it looks at the destination's type.
        match find db src with
        | Missing -> reply Reply.zero
        | WrongType -> reply Reply.wrongType
        | Found(s, _) ->
            match find db dst with
            | WrongType -> reply Reply.wrongType
            | _ when Bytes.equal src dst -> reply (if Champ.containsKey m s then Reply.one else Reply.zero)
            | _ when not (Champ.containsKey m s) -> reply Reply.zero
            | _ -> write Reply.one [ setOp dbi (SetOp.Move(src, dst, m)) ]

    /// The sets at `keys` (a missing key is an empty set) and how many were found; ValueNone when one
    /// holds another type: Redis looks at every key's type before it gives an empty answer.
    let private gather (db: Db) (keys: byte[][]) : struct (ChampMap<unit>[] * int) voption =
        let sets = Array.zeroCreate keys.Length
        let mutable found = 0
        let mutable wrong = false
        let mutable i = 0

        while not wrong && i < keys.Length do
            match find db keys[i] with
            | Found(s, _) ->
                sets[i] <- s
                found <- found + 1
            | Missing -> sets[i] <- Champ.empty
            | WrongType -> wrong <- true

            i <- i + 1

        if wrong then ValueNone else ValueSome(struct (sets, found))

    let private combine (db: Db) (algebra: SetAlgebra) (keys: byte[][]) =
        match gather db keys with
        | ValueNone -> reply Reply.wrongType
        | ValueSome(struct (sets, found)) ->
            { reply (bulks (membersOf (SetAlgebra.combine algebra sets))) with H = found; M = keys.Length - found }

    let private sintercard (db: Db) (keys: byte[][]) (limit: int64) =
        match gather db keys with
        | ValueNone -> reply Reply.wrongType
        | ValueSome(struct (sets, found)) ->
            { reply (Reply.Integer(SetAlgebra.interCount limit sets)) with H = found; M = keys.Length - found }

    let private store (dbi: int) (db: Db) (algebra: SetAlgebra) (dst: byte[]) (keys: byte[][]) =
        match gather db keys with
        | ValueNone -> reply Reply.wrongType
        | ValueSome(struct (sets, _)) ->
            let result = SetAlgebra.combine algebra sets

            if not (Champ.isEmpty result) then
                // Logged as the command itself: evolve computes the same result from the same sets.
                write (Reply.Integer(int64 (Champ.count result))) [ setOp dbi (SetOp.Store(algebra, dst, keys)) ]
            elif Champ.containsKey dst db.Keys then
                write Reply.zero [ evt dbi (Op.Del [| dst |]) ]
            else
                reply Reply.zero

    /// Redis 7.0 keeps a small all-integer set as an intset and returns it whole, with cursor 0, whatever
    /// the cursor and COUNT; any other set is a hash table it pages through, as we do.
    let private scannedWhole (s: ChampMap<unit>) : bool =
        Champ.count s <= 512 && Champ.toSeq s |> Seq.forall (fun (m, ()) -> (Num.tryParseInt64 m).IsSome)

    let private zeroCursor = "0"B

    let private sscan (db: Db) (k: byte[]) (cursor: uint64) (options: Result<ScanOptions, Reply>) =
        match find db k, options with
        | WrongType, _ -> reply Reply.wrongType
        | Missing, _ -> read false (Reply.Array [| Reply.Bulk zeroCursor; Reply.emptyArray |])
        | Found(_, _), Error e -> reply e
        | Found(s, _), Ok o ->
            let wanted = Scan.matches o

            let struct (next, members) =
                if scannedWhole s then
                    struct (zeroCursor, membersOf s |> Array.filter wanted)
                else
                    let struct (next, items) = Champ.scan cursor o.Count s
                    struct (Num.formatInt64 (int64 next), [| for (m, ()) in items do if wanted m then m |])

            read true (Reply.Array [| Reply.Bulk next; bulks members |])

    let run (ctx: Ctx) (ks: Keyspace) (dbi: int) (cmd: SetCommand) : struct (Outcome * int) =
        let db = Keyspace.db dbi ks

        match cmd with
        | SetCommand.Add(k, ms) -> plain (sadd dbi db k ms)
        | SetCommand.Rem(k, ms) -> plain (srem dbi db k ms)
        | SetCommand.Members k -> plain (smembers db k)
        | SetCommand.IsMember(k, m) -> plain (sismember db k m)
        | SetCommand.MIsMember(k, ms) -> plain (smismember db k ms)
        | SetCommand.Card k -> plain (scard db k)
        | SetCommand.Pop(k, count) -> plain (spop ctx dbi db k count)
        | SetCommand.RandMember(k, count) -> plain (srandmember ctx db k count)
        | SetCommand.Move(src, dst, m) -> plain (smove dbi db src dst m)
        | SetCommand.Combine(algebra, keys) -> plain (combine db algebra keys)
        | SetCommand.InterCard(keys, limit) -> plain (sintercard db keys limit)
        | SetCommand.Store(algebra, dst, keys) -> plain (store dbi db algebra dst keys)
        | SetCommand.Scan(k, cursor, options) -> plain (sscan db k cursor options)
