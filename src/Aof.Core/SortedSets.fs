namespace Aof.Core

open System

/// ZADD's options.
[<Struct>]
type ZAddFlags =
    { Nx: bool
      Xx: bool
      Gt: bool
      Lt: bool
      Ch: bool
      Incr: bool }

/// What a range command ranges over. Score and lex ranges are held as (min, max) whatever order the
/// command's arguments gave them in.
[<RequireQualifiedAccess>]
type ZRangeBy =
    | Rank of start: int64 * stop: int64
    | Score of min: ScoreBound * max: ScoreBound
    | Lex of min: LexBound * max: LexBound

/// One range query: ZRANGE and every older spelling of it.
type ZRangeQuery =
    { Key: byte[]
      By: ZRangeBy
      Rev: bool
      /// LIMIT offset count (count < 0: all).
      Limit: struct (int64 * int64) voption
      WithScores: bool }

[<RequireQualifiedAccess>]
type ZSetAlgebra =
    | Union
    | Inter
    | Diff

[<RequireQualifiedAccess>]
type ZAggregate =
    | Sum
    | Min
    | Max

/// A sorted-set command, parsed with Redis 7.0's arity and syntax errors.
[<RequireQualifiedAccess>]
type ZSetCommand =
    /// ZADD and ZINCRBY (an INCR with one pair). Scores stay text: Redis checks them before the key's type.
    | Add of key: byte[] * flags: ZAddFlags * pairs: struct (byte[] * byte[])[]
    | Rem of key: byte[] * members: byte[][]
    | Score of key: byte[] * mem: byte[]
    | MScore of key: byte[] * members: byte[][]
    | Card of key: byte[]
    | Count of key: byte[] * min: ScoreBound * max: ScoreBound
    | LexCount of key: byte[] * lmin: LexBound * lmax: LexBound
    | Rank of key: byte[] * mem: byte[] * rev: bool
    | Range of ZRangeQuery
    | RangeStore of dst: byte[] * query: ZRangeQuery
    | Pop of key: byte[] * max: bool * count: int64 voption
    | BPop of keys: byte[][] * max: bool * timeout: float
    /// ZMPOP and, with a timeout, BZMPOP: up to `count` from the first non-empty key.
    | MPop of keys: byte[][] * max: bool * count: int64 * timeout: float voption
    /// ZINTERCARD (limit 0: no limit).
    | InterCard of keys: byte[][] * limit: int64
    | RemRangeByRank of key: byte[] * start: int64 * stop: int64
    | RemRangeByScore of key: byte[] * min: ScoreBound * max: ScoreBound
    | RemRangeByLex of key: byte[] * lmin: LexBound * lmax: LexBound
    | RandMember of key: byte[] * count: int64 voption * withScores: bool
    | Store of algebra: ZSetAlgebra * dst: byte[] * sources: byte[][] * weights: float[] * aggregate: ZAggregate
    /// ZUNION / ZINTER / ZDIFF: the same algebra, replied rather than stored.
    | Combine of algebra: ZSetAlgebra * sources: byte[][] * weights: float[] * aggregate: ZAggregate * withScores: bool
    /// The options are read only once the key is found, as Redis does.
    | Scan of key: byte[] * cursor: uint64 * options: byte[][]
    /// ZUNION/ZINTER/ZDIFF(STORE) or ZINTERCARD whose key count read well but whose options did not: Redis
    /// checks the source keys' types first, so a WRONGTYPE answers before `error`.
    | BadOptions of sources: byte[][] * error: Reply

/// A deterministic sorted-set fact, exactly as it lands in the AOF (commands real Redis 7 also reads).
[<RequireQualifiedAccess>]
type ZSetOp =
    /// `ZADD key score member ...`: each member at exactly that score (added or moved).
    | Add of key: byte[] * pairs: struct (byte[] * float)[]
    /// `ZREM key member ...`: the members gone; the key goes with the last one.
    | Rem of key: byte[] * members: byte[][]
    // The rest are never logged by this server: they are the commands a real Redis 7.0 writes verbatim to
    // its AOF (deterministic given the state), read so that its files load here.
    /// `ZADD key [NX|XX] [GT|LT] [CH] [INCR] score member ...`
    | AddWith of key: byte[] * flags: ZAddFlags * pairs: struct (byte[] * float)[]
    /// `ZINCRBY key increment member`
    | IncrBy of key: byte[] * by: float * mem: byte[]
    /// `ZPOPMIN|ZPOPMAX key [count]` (Redis logs a served BZPOPMIN/BZPOPMAX so too)
    | Pop of key: byte[] * max: bool * count: int64
    /// `ZREMRANGEBYRANK|ZREMRANGEBYSCORE|ZREMRANGEBYLEX key min max`
    | RemRange of key: byte[] * range: ZRangeBy
    /// `ZUNIONSTORE|ZINTERSTORE|ZDIFFSTORE dst numkeys key ... [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX]`
    | Store of algebra: ZSetAlgebra * dst: byte[] * sources: byte[][] * weights: float[] * aggregate: ZAggregate
    /// `ZRANGESTORE dst src min max [BYSCORE|BYLEX] [REV] [LIMIT offset count]`
    | RangeStore of dst: byte[] * query: ZRangeQuery

/// Rank arithmetic shared by the range commands and their replay.
module ZRanks =
    /// ZRANGE's ranks: negative ones count from the end; the window is clamped to the set. [lo, hi).
    let window (len: int) (start: int64) (stop: int64) : struct (int * int) =
        let len64 = int64 len
        let start = if start < 0L then start + len64 else start
        let stop = if stop < 0L then stop + len64 else stop
        let start = max 0L start

        if start > stop || start >= len64 then struct (0, 0)
        else struct (int start, int (min stop (len64 - 1L)) + 1)

    /// The ascending ranks [lo, hi) a range selects (ranks counted from the lowest).
    let ofRange (z: ZSet) (by: ZRangeBy) : struct (int * int) =
        match by with
        | ZRangeBy.Rank(start, stop) -> window z.Count start stop
        | ZRangeBy.Score(mn, mx) -> struct (ZSet.scoreStart mn z, ZSet.scoreStop mx z)
        | ZRangeBy.Lex(mn, mx) -> struct (ZSet.lexStart mn z, ZSet.lexStop mx z)

/// The computations behind ZUNION/ZINTER/ZDIFF, their STORE forms and ZRANGESTORE, shared by decide (the
/// replies and the logged members) and evolve (a real Redis's verbatim STORE read back), so both compute
/// the same result.
module ZAlgebra =
    /// The elements a range query selects, in the order asked for.
    let select (z: ZSet) (q: ZRangeQuery) : struct (byte[] * float)[] =
        let n = z.Count

        let window (lo: int) (hi: int) =
            // LIMIT counts within the range, from its start in the direction asked for.
            let lo, hi =
                match q.Limit with
                | ValueNone -> lo, hi
                | ValueSome(struct (offset, _)) when offset < 0L -> 0, 0
                | ValueSome(struct (offset, count)) ->
                    let size = int64 (max 0 (hi - lo))
                    let take = if count < 0L then size else min size count
                    let offset = min offset size
                    let take = min take (size - offset)

                    if q.Rev then lo + int (size - offset - take), hi - int offset
                    else lo + int offset, lo + int (offset + take)

            let items = ZSet.slice lo hi z
            if q.Rev then Array.Reverse items
            items

        match q.By with
        | ZRangeBy.Rank(start, stop) ->
            let struct (lo, hi) = ZRanks.window n start stop
            // In reverse, rank 0 is the last element.
            if q.Rev then window (n - hi) (n - lo) else window lo hi
        | ZRangeBy.Score(mn, mx) -> window (ZSet.scoreStart mn z) (ZSet.scoreStop mx z)
        | ZRangeBy.Lex(mn, mx) -> window (ZSet.lexStart mn z) (ZSet.lexStop mx z)

    /// A result as a STORE keeps it. Redis builds the result and then picks its encoding, which decides
    /// how a -0 is kept.
    let stored (items: struct (byte[] * float)[]) : struct (byte[] * float)[] =
        let longest = items |> Array.fold (fun n (struct (m: byte[], _)) -> max n m.Length) 0
        items |> Array.map (fun (struct (m, s)) -> struct (m, ZSet.storedScore items.Length longest s))

    let private weigh (w: float) (s: float) =
        let v = w * s
        if Double.IsNaN v then 0.0 else v

    /// The running value `a` of a member, combined with its value `b` from one more source.
    let private aggregate (agg: ZAggregate) (a: float) (b: float) =
        match agg with
        | ZAggregate.Sum ->
            let v = a + b
            if Double.IsNaN v then 0.0 else v
        // The kept value wins a tie, so -0 against 0 keeps whichever came first, as in Redis.
        | ZAggregate.Min -> if b < a then b else a
        | ZAggregate.Max -> if b > a then b else a

    /// A source as (member -> score): plain sets count with score 1, as Redis counts them.
    [<Struct>]
    type Source =
        | Sorted of z: ZSet
        | Plain of s: ChampMap<unit>
        | Nothing

    let sourceCount (s: Source) : int =
        match s with
        | Sorted z -> z.Count
        | Plain p -> Champ.count p
        | Nothing -> 0

    let sourceScore (m: byte[]) (s: Source) : float voption =
        match s with
        | Sorted z -> ZSet.tryScore m z
        | Plain p -> if Champ.containsKey m p then ValueSome 1.0 else ValueNone
        | Nothing -> ValueNone

    let sourceIter (f: byte[] -> float -> unit) (s: Source) : unit =
        match s with
        | Sorted z -> ZSet.iter f z
        | Plain p -> Champ.iter (fun m () -> f m 1.0) p
        | Nothing -> ()

    /// The keys as sources (a missing key is an empty one); Error when one holds neither kind of set.
    let sources (db: Db) (keys: byte[][]) : Result<Source[], unit> =
        let found =
            keys
            |> Array.map (fun k ->
                match Db.tryFind k db with
                | ValueNone -> Ok Nothing
                | ValueSome e ->
                    match e.Value with
                    | Value.ZSet z -> Ok(Sorted z)
                    | Value.Set s -> Ok(Plain s)
                    | _ -> Error())

        if found |> Array.exists Result.isError then Error()
        else Ok(found |> Array.map (function Ok s -> s | Error() -> Nothing))

    /// The result of ZUNION / ZINTER / ZDIFF over the sources, ascending; Error when one is of another type.
    /// A -0 stays as it is: Redis replies it so (a stored one is kept as 0, like every stored zero).
    let combine (db: Db) (algebra: ZSetAlgebra) (keys: byte[][]) (weights: float[]) (agg: ZAggregate) : Result<struct (byte[] * float)[], unit> =
        match sources db keys with
        | Error() -> Error()
        | Ok sources ->
            let acc = Collections.Generic.Dictionary<byte[], float>(BytesComparer.Instance)

            // Smallest first, as Redis folds them, and in key order among equals (Redis's sort is stable,
            // Array.sortBy is not): the order shows in the last bit of a float sum and in which of -0 and 0 a
            // MIN or MAX keeps.
            let order = Array.sortBy (fun i -> struct (sourceCount sources[i], i)) [| 0 .. sources.Length - 1 |]

            match algebra with
            | ZSetAlgebra.Union ->
                for i in order do
                    sources[i]
                    |> sourceIter (fun m s ->
                        let v = weigh weights[i] s

                        match acc.TryGetValue m with
                        | true, cur -> acc[m] <- aggregate agg cur v
                        | _ -> acc[m] <- v)
            | ZSetAlgebra.Inter ->
                let order = Array.sortBy (fun i -> struct (sourceCount sources[i], i)) [| 0 .. sources.Length - 1 |]

                if sourceCount sources[order[0]] > 0 then
                    sources[order[0]]
                    |> sourceIter (fun m s ->
                        let mutable v = weigh weights[order[0]] s
                        let mutable all = true
                        let mutable j = 1

                        while all && j < order.Length do
                            match sourceScore m sources[order[j]] with
                            | ValueSome o -> v <- aggregate agg v (weigh weights[order[j]] o)
                            | ValueNone -> all <- false

                            j <- j + 1

                        if all then acc[m] <- v)
            | ZSetAlgebra.Diff ->
                sources[0]
                |> sourceIter (fun m s ->
                    let mutable j = 1

                    while j < sources.Length && (sourceScore m sources[j]).IsNone do
                        j <- j + 1

                    if j = sources.Length then acc[m] <- s)

            let items = [| for kv in acc -> struct (kv.Key, kv.Value) |]
            Ok(ZSet.toSeq (ZSet.ofSeq items) |> Seq.toArray)

module ZSetCommand =
    let private syntax = Error Reply.syntaxError
    let private notFloatRange = Reply.Error "ERR min or max is not a float"
    let private notLexRange = Reply.Error "ERR min or max not valid string range item"

    /// A score or weight as Redis reads one where it checks for overflow: `1e400` is not a float there
    /// (though `inf` is), while range bounds take it as infinity.
    let parseStrictFloat (b: byte[]) : float voption =
        match Num.tryParseFloat b with
        | ValueSome v when Double.IsInfinity v ->
            let t = (Bytes.toLower b).TrimStart('+', '-')
            if t = "inf" || t = "infinity" then ValueSome v else ValueNone
        | r -> r

    let private int64Arg (b: byte[]) =
        match Num.tryParseInt64 b with
        | ValueSome n -> Ok n
        | ValueNone -> Error Reply.notInteger

    /// `5`, `(5`, `-inf`, `+inf`.
    let parseScoreBound (b: byte[]) : Result<ScoreBound, Reply> =
        let exclusive = b.Length > 0 && b[0] = '('B
        let text = if exclusive then b[1..] else b

        match Num.tryParseFloat text with
        | ValueSome v -> Ok { Value = v; Exclusive = exclusive }
        | ValueNone -> Error notFloatRange

    let parseLexBound (b: byte[]) : Result<LexBound, Reply> =
        if b.Length = 1 && b[0] = '-'B then Ok LexBound.NegInf
        elif b.Length = 1 && b[0] = '+'B then Ok LexBound.PosInf
        elif b.Length > 0 && b[0] = '['B then Ok(LexBound.Incl b[1..])
        elif b.Length > 0 && b[0] = '('B then Ok(LexBound.Excl b[1..])
        else Error notLexRange

    let private pair (parse: byte[] -> Result<'B, Reply>) (a: byte[]) (b: byte[]) =
        match parse a with
        | Error e -> Error e
        | Ok x ->
            match parse b with
            | Error e -> Error e
            | Ok y -> Ok(x, y)

    let private noFlags = { Nx = false; Xx = false; Gt = false; Lt = false; Ch = false; Incr = false }

    /// ZADD's syntax (also how a real Redis's logged ZADD is read back).
    let parseZAdd (a: byte[][]) : Result<ZSetCommand, Reply> =
        let rec flags i (f: ZAddFlags) =
            if i >= a.Length then struct (i, f)
            else
                match Bytes.toLower a[i] with
                | "nx" -> flags (i + 1) { f with Nx = true }
                | "xx" -> flags (i + 1) { f with Xx = true }
                | "gt" -> flags (i + 1) { f with Gt = true }
                | "lt" -> flags (i + 1) { f with Lt = true }
                | "ch" -> flags (i + 1) { f with Ch = true }
                | "incr" -> flags (i + 1) { f with Incr = true }
                | _ -> struct (i, f)

        let struct (first, f) = flags 2 noFlags
        let elements = a.Length - first

        if elements = 0 || elements % 2 <> 0 then syntax
        elif f.Nx && f.Xx then Error(Reply.Error "ERR XX and NX options at the same time are not compatible")
        elif (f.Gt && f.Nx) || (f.Lt && f.Nx) || (f.Gt && f.Lt) then
            Error(Reply.Error "ERR GT, LT, and/or NX options at the same time are not compatible")
        elif f.Incr && elements > 2 then Error(Reply.Error "ERR INCR option supports a single increment-element pair")
        else Ok(ZSetCommand.Add(a[1], f, Array.init (elements / 2) (fun i -> struct (a[first + 2 * i + 1], a[first + 2 * i]))))

    /// LIMIT and WITHSCORES after the range of ZRANGEBYSCORE / ZRANGEBYLEX (and their REV forms).
    let private rangeOptions (a: byte[][]) (from: int) (lex: bool) =
        let rec go i (limit: struct (int64 * int64) voption) ws =
            if i >= a.Length then Ok(struct (limit, ws))
            elif not lex && Bytes.eqLower "withscores" a[i] then go (i + 1) limit true
            elif Bytes.eqLower "limit" a[i] && i + 2 < a.Length then
                match pair int64Arg a[i + 1] a[i + 2] with
                | Ok(o, c) -> go (i + 3) (ValueSome(struct (o, c))) ws
                | Error e -> Error e
            else syntax

        go from ValueNone false

    let private rangeByScore (rev: bool) (a: byte[][]) =
        let lo, hi = if rev then a[3], a[2] else a[2], a[3]

        match pair parseScoreBound lo hi with
        | Error e -> Error e
        | Ok(mn, mx) ->
            rangeOptions a 4 false
            |> Result.map (fun (struct (limit, ws)) ->
                ZSetCommand.Range { Key = a[1]; By = ZRangeBy.Score(mn, mx); Rev = rev; Limit = limit; WithScores = ws })

    let private rangeByLex (rev: bool) (a: byte[][]) =
        let lo, hi = if rev then a[3], a[2] else a[2], a[3]

        match pair parseLexBound lo hi with
        | Error e -> Error e
        | Ok(mn, mx) ->
            rangeOptions a 4 true
            |> Result.map (fun (struct (limit, _)) ->
                ZSetCommand.Range { Key = a[1]; By = ZRangeBy.Lex(mn, mx); Rev = rev; Limit = limit; WithScores = false })

    let private rangeByRank (rev: bool) (a: byte[][]) =
        let ws =
            if a.Length = 4 then Ok false
            elif a.Length = 5 && Bytes.eqLower "withscores" a[4] then Ok true
            else syntax

        match ws with
        | Error e -> Error e
        | Ok ws ->
            pair int64Arg a[2] a[3]
            |> Result.map (fun (s, e) -> ZSetCommand.Range { Key = a[1]; By = ZRangeBy.Rank(s, e); Rev = rev; Limit = ValueNone; WithScores = ws })

    /// ZRANGE's and ZRANGESTORE's unified syntax: `key min max [BYSCORE|BYLEX] [REV] [LIMIT o c] [WITHSCORES]`,
    /// starting at `at` (the source key).
    let private zrange (a: byte[][]) (at: int) (store: bool) : Result<ZRangeQuery, Reply> =
        let rec opts i byScore byLex rev limit ws =
            if i >= a.Length then Ok(struct (byScore, byLex, rev, limit, ws))
            else
                match Bytes.toLower a[i] with
                | "withscores" when not store -> opts (i + 1) byScore byLex rev limit true
                | "byscore" when not byScore && not byLex -> opts (i + 1) true byLex rev limit ws
                | "bylex" when not byScore && not byLex -> opts (i + 1) byScore true rev limit ws
                | "rev" when not rev -> opts (i + 1) byScore byLex true limit ws
                | "limit" when i + 2 < a.Length ->
                    match pair int64Arg a[i + 1] a[i + 2] with
                    | Ok(o, c) -> opts (i + 3) byScore byLex rev (ValueSome(struct (o, c))) ws
                    | Error e -> Error e
                | _ -> syntax

        match opts (at + 3) false false false ValueNone false with
        | Error e -> Error e
        | Ok(struct (byScore, byLex, rev, limit, ws)) ->
            // By rank Redis takes a LIMIT whose count is -1 (no limit) and ignores its offset too.
            let byRank = not byScore && not byLex

            if byRank && limit |> ValueOption.exists (fun struct (_, count) -> count <> -1L) then
                Error(Reply.Error "ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX")
            elif ws && byLex then
                Error(Reply.Error "ERR syntax error, WITHSCORES not supported in combination with BYLEX")
            else
                let lo, hi = if rev && (byScore || byLex) then a[at + 2], a[at + 1] else a[at + 1], a[at + 2]

                let by =
                    if byScore then pair parseScoreBound lo hi |> Result.map ZRangeBy.Score
                    elif byLex then pair parseLexBound lo hi |> Result.map ZRangeBy.Lex
                    else pair int64Arg lo hi |> Result.map ZRangeBy.Rank

                by |> Result.map (fun by -> { Key = a[at]; By = by; Rev = rev; Limit = (if byRank then ValueNone else limit); WithScores = ws })

    let private pop (max: bool) (a: byte[][]) =
        if a.Length > 3 then syntax
        elif a.Length = 3 then
            match Num.tryParseInt64 a[2] with
            | ValueSome n when n >= 0L -> Ok(ZSetCommand.Pop(a[1], max, ValueSome n))
            | _ -> Error(Reply.Error "ERR value is out of range, must be positive")
        else Ok(ZSetCommand.Pop(a[1], max, ValueNone))

    /// A blocking timeout as Redis reads it: seconds, fractional allowed, not negative. Values too large
    /// for Redis's millisecond count wrap negative there, hence the same error for them.
    let parseTimeout (b: byte[]) : Result<float, Reply> =
        match Num.tryParseFloat b with
        | ValueNone -> Error(Reply.Error "ERR timeout is not a float or out of range")
        | ValueSome t when t < 0.0 || t * 1000.0 >= 9.2233720368547758e18 -> Error(Reply.Error "ERR timeout is negative")
        | ValueSome t -> Ok t

    let private bpop (max: bool) (a: byte[][]) =
        parseTimeout a[a.Length - 1] |> Result.map (fun t -> ZSetCommand.BPop(a[1 .. a.Length - 2], max, t))

    /// `[timeout] numkeys key ... MIN|MAX [COUNT count]`
    let private mpop (blocking: bool) (a: byte[][]) =
        let first = if blocking then 2 else 1

        let timeout =
            if blocking then parseTimeout a[1] |> Result.map ValueSome else Ok ValueNone

        match timeout with
        | Error e -> Error e
        | Ok timeout ->
            match Num.tryParseInt64 a[first] with
            | ValueSome n when n > 0L ->
                if n > int64 (a.Length - first - 2) then syntax
                else
                    let n = int n
                    let keys = a[first + 1 .. first + n]
                    let at = first + 1 + n

                    let max =
                        if Bytes.eqLower "min" a[at] then Ok false
                        elif Bytes.eqLower "max" a[at] then Ok true
                        else syntax

                    let count =
                        if at + 1 = a.Length then Ok 1L
                        elif Bytes.eqLower "count" a[at + 1] && at + 3 = a.Length then
                            match Num.tryParseInt64 a[at + 2] with
                            | ValueSome c when c > 0L -> Ok c
                            | _ -> Error(Reply.Error "ERR count should be greater than 0")
                        else syntax

                    match max, count with
                    | Ok max, Ok count -> Ok(ZSetCommand.MPop(keys, max, count, timeout))
                    | Error e, _
                    | _, Error e -> Error e
            | _ -> Error(Reply.Error "ERR numkeys should be greater than 0")

    /// `numkeys key ... [LIMIT limit]`
    let private interCard (a: byte[][]) =
        match Num.tryParseInt64 a[1] with
        | ValueNone -> Error Reply.notInteger
        | ValueSome n when n < 1L -> Error(Reply.Error "ERR at least 1 input key is needed for 'zintercard' command")
        | ValueSome n when n > int64 (a.Length - 2) -> syntax
        | ValueSome n ->
            let n = int n

            let rec opts i limit =
                if i >= a.Length then Ok limit
                elif Bytes.eqLower "limit" a[i] && i + 1 < a.Length then
                    match Num.tryParseInt64 a[i + 1] with
                    | ValueSome l when l >= 0L -> opts (i + 2) l
                    | _ -> Error(Reply.Error "ERR LIMIT can't be negative")
                else syntax

            let keys = a[2 .. 1 + n]

            match opts (2 + n) 0L with
            | Ok limit -> Ok(ZSetCommand.InterCard(keys, limit))
            | Error e -> Ok(ZSetCommand.BadOptions(keys, e))

    let private remRange (a: byte[][]) (kind: string) =
        match kind with
        | "rank" -> pair int64Arg a[2] a[3] |> Result.map (fun (s, e) -> ZSetCommand.RemRangeByRank(a[1], s, e))
        | "score" -> pair parseScoreBound a[2] a[3] |> Result.map (fun (s, e) -> ZSetCommand.RemRangeByScore(a[1], s, e))
        | _ -> pair parseLexBound a[2] a[3] |> Result.map (fun (s, e) -> ZSetCommand.RemRangeByLex(a[1], s, e))

    let private randMember (a: byte[][]) =
        if a.Length = 2 then Ok(ZSetCommand.RandMember(a[1], ValueNone, false))
        else
            match Num.tryParseInt64 a[2] with
            | ValueNone -> Error Reply.notInteger
            | ValueSome n when n = System.Int64.MinValue ->
                Error(Reply.Error "ERR value is out of range, value must between -9223372036854775807 and 9223372036854775807")
            | ValueSome n ->
                if a.Length = 3 then Ok(ZSetCommand.RandMember(a[1], ValueSome n, false))
                elif a.Length = 4 && Bytes.eqLower "withscores" a[3] then Ok(ZSetCommand.RandMember(a[1], ValueSome n, true))
                else syntax

    /// `numkeys key ... [WEIGHTS w ...] [AGGREGATE SUM|MIN|MAX] [WITHSCORES]` from `at` (numkeys); a
    /// difference takes no options but WITHSCORES, a store not even that. The options' error is kept
    /// apart from the key count's (see BadOptions).
    let private algebraArgs (algebra: ZSetAlgebra) (name: string) (store: bool) (a: byte[][]) (at: int) =
        match Num.tryParseInt64 a[at] with
        | ValueNone -> Error Reply.notInteger
        | ValueSome n when n < 1L -> Error(Reply.Error(sprintf "ERR at least 1 input key is needed for '%s' command" name))
        | ValueSome n when n > int64 (a.Length - at - 1) -> syntax
        | ValueSome n ->
            let n = int n
            let sources = a[at + 1 .. at + n]

            let rec opts i (weights: float[]) agg ws =
                if i >= a.Length then Ok(struct (weights, agg, ws))
                elif not store && Bytes.eqLower "withscores" a[i] then opts (i + 1) weights agg true
                elif algebra <> ZSetAlgebra.Diff && Bytes.eqLower "weights" a[i] && i + n < a.Length then
                    let ws' = a[i + 1 .. i + n] |> Array.map parseStrictFloat

                    if ws' |> Array.exists (fun w -> w.IsNone) then Error(Reply.Error "ERR weight value is not a float")
                    else opts (i + 1 + n) (ws' |> Array.map (fun w -> w.Value)) agg ws
                elif algebra <> ZSetAlgebra.Diff && Bytes.eqLower "aggregate" a[i] && i + 1 < a.Length then
                    match Bytes.toLower a[i + 1] with
                    | "sum" -> opts (i + 2) weights ZAggregate.Sum ws
                    | "min" -> opts (i + 2) weights ZAggregate.Min ws
                    | "max" -> opts (i + 2) weights ZAggregate.Max ws
                    | _ -> syntax
                else syntax

            Ok(struct (sources, opts (at + 1 + n) (Array.create n 1.0) ZAggregate.Sum false))

    /// ZUNIONSTORE, ZINTERSTORE, ZDIFFSTORE (`name`): also how a real Redis's logged one is read back.
    let parseStore (algebra: ZSetAlgebra) (name: string) (a: byte[][]) : Result<ZSetCommand, Reply> =
        algebraArgs algebra name true a 2
        |> Result.map (fun (struct (sources, options)) ->
            match options with
            | Ok(struct (weights, agg, _)) -> ZSetCommand.Store(algebra, a[1], sources, weights, agg)
            | Error e -> ZSetCommand.BadOptions(sources, e))

    let private combine (algebra: ZSetAlgebra) (name: string) (a: byte[][]) =
        algebraArgs algebra name false a 1
        |> Result.map (fun (struct (sources, options)) ->
            match options with
            | Ok(struct (weights, agg, ws)) -> ZSetCommand.Combine(algebra, sources, weights, agg, ws)
            | Error e -> ZSetCommand.BadOptions(sources, e))

    /// ZRANGESTORE: also how a real Redis's logged one is read back.
    let parseRangeStore (a: byte[][]) : Result<ZSetCommand, Reply> =
        zrange a 2 true |> Result.map (fun q -> ZSetCommand.RangeStore(a[1], q))

    let private scan (a: byte[][]) =
        match Scan.parseCursor a[2] with
        | ValueSome c -> Ok(ZSetCommand.Scan(a[1], c, a[3..]))
        | ValueNone -> Error(Reply.Error "ERR invalid cursor")

    /// (name, arity, writes, parser): joined into the command table.
    let specs: (string * int * bool * (byte[][] -> Result<ZSetCommand, Reply>)) list =
        [ "zadd", -4, true, parseZAdd
          "zincrby", 4, true, (fun a -> Ok(ZSetCommand.Add(a[1], { noFlags with Incr = true }, [| struct (a[3], a[2]) |])))
          "zrem", -3, true, (fun a -> Ok(ZSetCommand.Rem(a[1], a[2..])))
          "zscore", 3, false, (fun a -> Ok(ZSetCommand.Score(a[1], a[2])))
          "zmscore", -3, false, (fun a -> Ok(ZSetCommand.MScore(a[1], a[2..])))
          "zcard", 2, false, (fun a -> Ok(ZSetCommand.Card a[1]))
          "zcount", 4, false, (fun a -> pair parseScoreBound a[2] a[3] |> Result.map (fun (mn, mx) -> ZSetCommand.Count(a[1], mn, mx)))
          "zlexcount", 4, false, (fun a -> pair parseLexBound a[2] a[3] |> Result.map (fun (mn, mx) -> ZSetCommand.LexCount(a[1], mn, mx)))
          "zrank", 3, false, (fun a -> Ok(ZSetCommand.Rank(a[1], a[2], false)))
          "zrevrank", 3, false, (fun a -> Ok(ZSetCommand.Rank(a[1], a[2], true)))
          "zrange", -4, false, (fun a -> zrange a 1 false |> Result.map ZSetCommand.Range)
          "zrangestore", -5, true, parseRangeStore
          "zrangebyscore", -4, false, rangeByScore false
          "zrevrangebyscore", -4, false, rangeByScore true
          "zrangebylex", -4, false, rangeByLex false
          "zrevrangebylex", -4, false, rangeByLex true
          "zrevrange", -4, false, rangeByRank true
          "zpopmin", -2, true, pop false
          "zpopmax", -2, true, pop true
          "bzpopmin", -3, true, bpop false
          "bzpopmax", -3, true, bpop true
          "zmpop", -4, true, mpop false
          "bzmpop", -5, true, mpop true
          "zintercard", -3, false, interCard
          "zremrangebyrank", 4, true, (fun a -> remRange a "rank")
          "zremrangebyscore", 4, true, (fun a -> remRange a "score")
          "zremrangebylex", 4, true, (fun a -> remRange a "lex")
          "zrandmember", -2, false, randMember
          "zunionstore", -4, true, parseStore ZSetAlgebra.Union "zunionstore"
          "zinterstore", -4, true, parseStore ZSetAlgebra.Inter "zinterstore"
          "zdiffstore", -4, true, parseStore ZSetAlgebra.Diff "zdiffstore"
          "zunion", -3, false, combine ZSetAlgebra.Union "zunion"
          "zinter", -3, false, combine ZSetAlgebra.Inter "zinter"
          "zdiff", -3, false, combine ZSetAlgebra.Diff "zdiff"
          "zscan", -3, false, scan ]

    /// The keys of the session's database the command reads or writes: lazy expiry purges these first,
    /// and a blocking command waits on them.
    let keys (cmd: ZSetCommand) : byte[][] =
        match cmd with
        | ZSetCommand.Add(k, _, _)
        | ZSetCommand.Rem(k, _)
        | ZSetCommand.Score(k, _)
        | ZSetCommand.MScore(k, _)
        | ZSetCommand.Card k
        | ZSetCommand.Count(k, _, _)
        | ZSetCommand.LexCount(k, _, _)
        | ZSetCommand.Rank(k, _, _)
        | ZSetCommand.Pop(k, _, _)
        | ZSetCommand.RemRangeByRank(k, _, _)
        | ZSetCommand.RemRangeByScore(k, _, _)
        | ZSetCommand.RemRangeByLex(k, _, _)
        | ZSetCommand.RandMember(k, _, _)
        | ZSetCommand.Scan(k, _, _) -> [| k |]
        | ZSetCommand.Range q -> [| q.Key |]
        | ZSetCommand.RangeStore(dst, q) -> [| dst; q.Key |]
        | ZSetCommand.BPop(ks, _, _)
        | ZSetCommand.MPop(ks, _, _, _)
        | ZSetCommand.InterCard(ks, _)
        | ZSetCommand.BadOptions(ks, _)
        | ZSetCommand.Combine(_, ks, _, _, _) -> ks
        | ZSetCommand.Store(_, dst, sources, _, _) -> Array.append [| dst |] sources

    /// For a blocking command: its timeout in seconds (0 = forever) and the reply when it times out (or runs
    /// inside MULTI with nothing to serve). ValueNone for every other command.
    let blocking (cmd: ZSetCommand) : struct (float * Reply) voption =
        match cmd with
        | ZSetCommand.BPop(_, _, t)
        | ZSetCommand.MPop(_, _, _, ValueSome t) -> ValueSome(struct (t, Reply.NilArray))
        | _ -> ValueNone

module ZSetOp =
    let private zaddName = "ZADD"B
    let private zremName = "ZREM"B

    let private scoreBoundText (b: ScoreBound) =
        if b.Exclusive then Array.append "("B (Score.format b.Value) else Score.format b.Value

    let private lexBoundText (b: LexBound) =
        match b with
        | LexBound.NegInf -> "-"B
        | LexBound.PosInf -> "+"B
        | LexBound.Incl m -> Array.append "["B m
        | LexBound.Excl m -> Array.append "("B m

    /// The RESP command that records the op.
    let toArgs (op: ZSetOp) : byte[][] =
        match op with
        | ZSetOp.Add(k, pairs) ->
            Args.withPairs zaddName k pairs (fun (struct (_, s)) -> Score.format s) (fun (struct (m, _)) -> m)
        | ZSetOp.Rem(k, members) -> Args.withKey zremName k members
        | ZSetOp.AddWith(k, f, pairs) ->
            [| yield zaddName
               yield k
               if f.Nx then yield "NX"B
               if f.Xx then yield "XX"B
               if f.Gt then yield "GT"B
               if f.Lt then yield "LT"B
               if f.Ch then yield "CH"B
               if f.Incr then yield "INCR"B
               for struct (m, s) in pairs do
                   yield Score.format s
                   yield m |]
        | ZSetOp.IncrBy(k, by, m) -> [| "ZINCRBY"B; k; Score.format by; m |]
        | ZSetOp.Pop(k, max, count) -> [| (if max then "ZPOPMAX"B else "ZPOPMIN"B); k; Num.formatInt64 count |]
        | ZSetOp.RemRange(k, ZRangeBy.Rank(s, e)) -> [| "ZREMRANGEBYRANK"B; k; Num.formatInt64 s; Num.formatInt64 e |]
        | ZSetOp.RemRange(k, ZRangeBy.Score(mn, mx)) -> [| "ZREMRANGEBYSCORE"B; k; scoreBoundText mn; scoreBoundText mx |]
        | ZSetOp.RemRange(k, ZRangeBy.Lex(mn, mx)) -> [| "ZREMRANGEBYLEX"B; k; lexBoundText mn; lexBoundText mx |]
        | ZSetOp.Store(algebra, dst, sources, weights, agg) ->
            [| yield
                   (match algebra with
                    | ZSetAlgebra.Union -> "ZUNIONSTORE"B
                    | ZSetAlgebra.Inter -> "ZINTERSTORE"B
                    | ZSetAlgebra.Diff -> "ZDIFFSTORE"B)
               yield dst
               yield Num.formatInt64 (int64 sources.Length)
               yield! sources
               // Only the options that differ from the defaults (a difference takes neither).
               if weights |> Array.exists (fun w -> w <> 1.0) then
                   yield "WEIGHTS"B
                   yield! weights |> Array.map Score.format
               match agg with
               | ZAggregate.Sum -> ()
               | ZAggregate.Min -> yield! [| "AGGREGATE"B; "MIN"B |]
               | ZAggregate.Max -> yield! [| "AGGREGATE"B; "MAX"B |] |]
        | ZSetOp.RangeStore(dst, q) ->
            // A reversed score or lex range names its bounds high first, as ZRANGE reads them.
            let inOrder (lo: byte[]) (hi: byte[]) = if q.Rev then [| hi; lo |] else [| lo; hi |]

            let range =
                match q.By with
                | ZRangeBy.Rank(s, e) -> [| Num.formatInt64 s; Num.formatInt64 e |]
                | ZRangeBy.Score(mn, mx) -> Array.append (inOrder (scoreBoundText mn) (scoreBoundText mx)) [| "BYSCORE"B |]
                | ZRangeBy.Lex(mn, mx) -> Array.append (inOrder (lexBoundText mn) (lexBoundText mx)) [| "BYLEX"B |]

            [| yield "ZRANGESTORE"B
               yield dst
               yield q.Key
               yield! range
               if q.Rev then yield "REV"B
               match q.Limit with
               | ValueSome(struct (offset, count)) -> yield! [| "LIMIT"B; Num.formatInt64 offset; Num.formatInt64 count |]
               | ValueNone -> () |]

    /// Reads back a logged command whose lower-cased name is `name`; ValueNone when it is not a sorted-set command.
    /// ZADD is read in its plain form only (no NX/XX/GT/LT/CH/INCR: those are decisions, not facts).
    let ofArgs (name: string) (a: byte[][]) : Result<ZSetOp, unit> voption =
        let plainAdd () =
            if a.Length >= 4 && a.Length % 2 = 0 then
                let pairs = Array.zeroCreate ((a.Length - 2) / 2)
                let mutable ok = true

                for i in 0 .. pairs.Length - 1 do
                    match Num.tryParseFloat a[2 + 2 * i] with
                    | ValueSome s -> pairs[i] <- struct (a[3 + 2 * i], s)
                    | ValueNone -> ok <- false

                if ok then ValueSome(ZSetOp.Add(a[1], pairs)) else ValueNone
            else ValueNone

        let ok op = ValueSome(Ok op)
        let bad = ValueSome(Error())

        match name with
        | "zadd" ->
            match plainAdd () with
            | ValueSome op -> ok op
            | ValueNone ->
                match (if a.Length >= 4 then ZSetCommand.parseZAdd a else Error Reply.syntaxError) with
                | Ok(ZSetCommand.Add(k, f, pairs)) ->
                    let scores = pairs |> Array.map (fun (struct (_, s)) -> Num.tryParseFloat s)

                    if scores |> Array.exists (fun s -> s.IsNone) then bad
                    else ok (ZSetOp.AddWith(k, f, Array.map2 (fun (struct (m, _)) (s: float voption) -> struct (m, s.Value)) pairs scores))
                | _ -> bad
        | "zrem" when a.Length >= 3 -> ok (ZSetOp.Rem(a[1], a[2..]))
        | "zincrby" when a.Length = 4 ->
            match Num.tryParseFloat a[2] with
            | ValueSome by -> ok (ZSetOp.IncrBy(a[1], by, a[3]))
            | ValueNone -> bad
        | "zpopmin"
        | "zpopmax" when a.Length = 2 || a.Length = 3 ->
            let count = if a.Length = 3 then Num.tryParseInt64 a[2] else ValueSome 1L

            match count with
            | ValueSome c when c >= 0L -> ok (ZSetOp.Pop(a[1], (name = "zpopmax"), c))
            | _ -> bad
        | "zremrangebyrank"
        | "zremrangebyscore"
        | "zremrangebylex" when a.Length = 4 ->
            let range =
                match name with
                | "zremrangebyrank" ->
                    match Num.tryParseInt64 a[2], Num.tryParseInt64 a[3] with
                    | ValueSome s, ValueSome e -> Ok(ZRangeBy.Rank(s, e))
                    | _ -> Error()
                | "zremrangebyscore" ->
                    match ZSetCommand.parseScoreBound a[2], ZSetCommand.parseScoreBound a[3] with
                    | Ok mn, Ok mx -> Ok(ZRangeBy.Score(mn, mx))
                    | _ -> Error()
                | _ ->
                    match ZSetCommand.parseLexBound a[2], ZSetCommand.parseLexBound a[3] with
                    | Ok mn, Ok mx -> Ok(ZRangeBy.Lex(mn, mx))
                    | _ -> Error()

            match range with
            | Ok r -> ok (ZSetOp.RemRange(a[1], r))
            | Error() -> bad
        // The STOREs are read with the very parsers the commands use, so what Redis accepted reads back.
        | "zunionstore"
        | "zinterstore"
        | "zdiffstore" ->
            let algebra =
                match name with
                | "zunionstore" -> ZSetAlgebra.Union
                | "zinterstore" -> ZSetAlgebra.Inter
                | _ -> ZSetAlgebra.Diff

            match (if a.Length >= 4 then ZSetCommand.parseStore algebra name a else Error Reply.syntaxError) with
            | Ok(ZSetCommand.Store(algebra, dst, sources, weights, agg)) -> ok (ZSetOp.Store(algebra, dst, sources, weights, agg))
            | _ -> bad
        | "zrangestore" ->
            match (if a.Length >= 5 then ZSetCommand.parseRangeStore a else Error Reply.syntaxError) with
            | Ok(ZSetCommand.RangeStore(dst, q)) -> ok (ZSetOp.RangeStore(dst, q))
            | _ -> bad
        | "zadd"
        | "zrem"
        | "zincrby"
        | "zpopmin"
        | "zpopmax"
        | "zremrangebyrank"
        | "zremrangebyscore"
        | "zremrangebylex" -> bad
        | _ -> ValueNone

    /// The keys the op writes: clients blocked on them are looked at again.
    let keys (op: ZSetOp) : byte[][] =
        match op with
        | ZSetOp.Add(k, _)
        | ZSetOp.Rem(k, _)
        | ZSetOp.AddWith(k, _, _)
        | ZSetOp.IncrBy(k, _, _)
        | ZSetOp.Pop(k, _, _)
        | ZSetOp.RemRange(k, _) -> [| k |]
        | ZSetOp.Store(_, dst, _, _, _)
        | ZSetOp.RangeStore(dst, _) -> [| dst |]

    /// The key holding `z` (gone when it is empty).
    let private store (k: byte[]) (z: ZSet) (expireAt: int64) (db: Db) =
        if ZSet.isEmpty z then Db.remove k db else Db.set k (Entry(Value.ZSet z, expireAt)) db

    /// A change to the sorted set at `k`; nothing when there is none.
    let private update (k: byte[]) (db: Db) (f: ZSet -> ZSet) : Db =
        match Db.tryFind k db with
        | ValueSome e ->
            match e.Value with
            | Value.ZSet z -> store k (f z) e.ExpireAt db
            | _ -> db
        | ValueNone -> db

    /// A STORE's result replaces the destination whatever it held, and drops its TTL; an empty one deletes it.
    let private replace (dst: byte[]) (items: struct (byte[] * float)[]) (db: Db) : Db =
        if items.Length = 0 then Db.remove dst db
        else Db.set dst (Entry(Value.ZSet(ZSet.ofSeq (ZAlgebra.stored items)), Expiry.none)) db

    /// ZADD's options applied as Redis applies them, member by member; a zero stored as decide stores it.
    let private addWith (f: ZAddFlags) (pairs: struct (byte[] * float)[]) (z: ZSet) : ZSet =
        let mutable z = z

        for struct (m, s) in pairs do
            match ZSet.tryScore m z with
            | ValueSome cur when not f.Nx ->
                let s = if f.Incr then cur + s else s

                if Double.IsNaN s || (f.Lt && s >= cur) || (f.Gt && s <= cur) then ()
                else z <- ZSet.add m (ZSet.storedScore z.Count m.Length s) z
            | ValueNone when not f.Xx -> z <- ZSet.add m (ZSet.storedScore (z.Count + 1) m.Length s) z
            | _ -> ()

        z

    /// evolve, within the op's database. An emptied collection disappears; a written one keeps its TTL;
    /// ZADD over a key of another type starts afresh (decide never logs that; a foreign AOF might).
    let rec apply (op: ZSetOp) (db: Db) : Db =
        match op with
        | ZSetOp.Add(k, pairs) ->
            let z, exp =
                match Db.tryFind k db with
                | ValueSome e ->
                    match e.Value with
                    | Value.ZSet z -> z, e.ExpireAt
                    | _ -> ZSet.empty, e.ExpireAt
                | ValueNone -> ZSet.empty, Expiry.none

            let mutable z = z

            for struct (m, s) in pairs do
                z <- ZSet.add m s z

            if ZSet.isEmpty z then db else Db.set k (Entry(Value.ZSet z, exp)) db
        | ZSetOp.Rem(k, members) ->
            match Db.tryFind k db with
            | ValueSome e ->
                match e.Value with
                | Value.ZSet z ->
                    let mutable z = z

                    for m in members do
                        z <- ZSet.remove m z

                    if ZSet.isEmpty z then Db.remove k db else Db.set k (Entry(Value.ZSet z, e.ExpireAt)) db
                | _ -> db
            | ValueNone -> db
        | ZSetOp.AddWith(k, f, pairs) ->
            match Db.tryFind k db with
            | ValueSome e ->
                match e.Value with
                | Value.ZSet z -> store k (addWith f pairs z) e.ExpireAt db
                | _ -> db
            | ValueNone when f.Xx -> db
            | ValueNone -> store k (addWith f pairs ZSet.empty) Expiry.none db
        | ZSetOp.IncrBy(k, by, m) -> apply (ZSetOp.AddWith(k, { Nx = false; Xx = false; Gt = false; Lt = false; Ch = false; Incr = true }, [| struct (m, by) |])) db
        | ZSetOp.Pop(k, max, count) ->
            update k db (fun z ->
                let n = int (min count (int64 z.Count))
                let gone = if max then ZSet.slice (z.Count - n) z.Count z else ZSet.slice 0 n z
                gone |> Array.fold (fun z (struct (m, _)) -> ZSet.remove m z) z)
        | ZSetOp.RemRange(k, range) ->
            update k db (fun z ->
                let struct (lo, hi) = ZRanks.ofRange z range
                ZSet.slice lo hi z |> Array.fold (fun z (struct (m, _)) -> ZSet.remove m z) z)
        // A source of the wrong type: Redis's loader runs the command, which fails and changes nothing.
        | ZSetOp.Store(algebra, dst, sources, weights, agg) ->
            match ZAlgebra.combine db algebra sources weights agg with
            | Ok items -> replace dst items db
            | Error() -> db
        | ZSetOp.RangeStore(dst, q) ->
            match Db.tryFind q.Key db with
            | ValueNone -> replace dst [||] db
            | ValueSome e ->
                match e.Value with
                | Value.ZSet z -> replace dst (ZAlgebra.select z q) db
                | _ -> db

    /// Redis's AOF_REWRITE_ITEMS_PER_CMD.
    [<Literal>]
    let ItemsPerCommand = 64

    /// The rewrite of one key: ZADDs of at most 64 members each, in order.
    let project (key: byte[]) (z: ZSet) : ZSetOp list =
        ZSet.toSeq z
        |> Seq.chunkBySize ItemsPerCommand
        |> Seq.map (fun chunk -> ZSetOp.Add(key, chunk))
        |> List.ofSeq
