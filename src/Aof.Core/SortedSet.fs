namespace Aof.Core

// A sorted set is two persistent structures that always hold the same members:
//
// - an order tree: a weight-balanced binary tree (Adams' trees, with Haskell Data.Map's proven parameters
//   delta = 3, ratio = 2) ordered by (score, member), every node carrying its subtree's size. Sizes give
//   rank, select and "how many sort before this bound" in O(log n), so every range command (by rank, by
//   score, by lex) costs O(log n + m) for m returned elements, as Redis's skiplist does;
// - a CHAMP map member -> score, so ZSCORE / ZMSCORE / "is it there" are O(1)-ish, as Redis's dict is.
//
// Add / remove are O(log n) in the tree plus the CHAMP update; both share every untouched node with the
// previous version, so a snapshot (the AOF rewrite's view) is a reference copy.
//
// Order: scores compare as IEEE doubles (-0 and 0 tie, NaN never gets in), ties broken by the member
// compared as unsigned bytes (memcmp), as Redis orders its skiplist.

open System

module Score =
    /// A score as Redis 7.0 replies with it and as the AOF records it: C's `%.17g` (which reads back to
    /// the same double), `inf` / `-inf`. .NET's "G17" agrees but for the exponent's letter case.
    let format (d: float) : byte[] =
        if Double.IsPositiveInfinity d then "inf"B
        elif Double.IsNegativeInfinity d then "-inf"B
        else
            let s = d.ToString("G17", Globalization.CultureInfo.InvariantCulture)
            let b = Bytes.ofString s

            for i in 0 .. b.Length - 1 do
                if b[i] = 'E'B then b[i] <- 'e'B

            b

/// One node of the order tree; null is the empty tree.
[<AllowNullLiteral; Sealed>]
type internal ZNode(mem: byte[], score: float, left: ZNode, right: ZNode, size: int) =
    member _.Member = mem
    member _.Score = score
    member _.Left = left
    member _.Right = right
    member _.Size = size

module internal ZTree =
    let inline size (n: ZNode) = if isNull n then 0 else n.Size

    /// (score, member) order.
    let inline compare (s1: float) (m1: byte[]) (s2: float) (m2: byte[]) =
        if s1 < s2 then -1
        elif s1 > s2 then 1
        else Bytes.compare m1 m2

    let inline node m s (l: ZNode) (r: ZNode) = ZNode(m, s, l, r, size l + size r + 1)

    [<Literal>]
    let Delta = 3

    [<Literal>]
    let Ratio = 2

    let private singleL m s (l: ZNode) (r: ZNode) = node r.Member r.Score (node m s l r.Left) r.Right
    let private singleR m s (l: ZNode) (r: ZNode) = node l.Member l.Score l.Left (node m s l.Right r)

    let private doubleL m s (l: ZNode) (r: ZNode) =
        let rl = r.Left
        node rl.Member rl.Score (node m s l rl.Left) (node r.Member r.Score rl.Right r.Right)

    let private doubleR m s (l: ZNode) (r: ZNode) =
        let lr = l.Right
        node lr.Member lr.Score (node l.Member l.Score l.Left lr.Left) (node m s lr.Right r)

    /// A node whose subtrees are off balance by at most one insertion or deletion, rebalanced.
    let balance m s (l: ZNode) (r: ZNode) : ZNode =
        let sl = size l
        let sr = size r

        if sl + sr <= 1 then node m s l r
        elif sr > Delta * sl then
            if size r.Left < Ratio * size r.Right then singleL m s l r else doubleL m s l r
        elif sl > Delta * sr then
            if size l.Right < Ratio * size l.Left then singleR m s l r else doubleR m s l r
        else node m s l r

    /// Inserts a (score, member) that is not in the tree.
    let rec insert (m: byte[]) (s: float) (n: ZNode) : ZNode =
        if isNull n then ZNode(m, s, null, null, 1)
        else
            let c = compare s m n.Score n.Member

            if c < 0 then balance n.Member n.Score (insert m s n.Left) n.Right
            elif c > 0 then balance n.Member n.Score n.Left (insert m s n.Right)
            else n

    let rec private popMin (n: ZNode) (minNode: byref<ZNode>) : ZNode =
        if isNull n.Left then
            minNode <- n
            n.Right
        else balance n.Member n.Score (popMin n.Left &minNode) n.Right

    let rec private popMax (n: ZNode) (maxNode: byref<ZNode>) : ZNode =
        if isNull n.Right then
            maxNode <- n
            n.Left
        else balance n.Member n.Score n.Left (popMax n.Right &maxNode)

    /// Two siblings joined once their parent is gone: the larger side gives up its edge element as root.
    let private glue (l: ZNode) (r: ZNode) : ZNode =
        if isNull l then r
        elif isNull r then l
        elif l.Size > r.Size then
            let mutable top = null
            let l' = popMax l &top
            balance top.Member top.Score l' r
        else
            let mutable top = null
            let r' = popMin r &top
            balance top.Member top.Score l r'

    /// Removes a (score, member); the same tree when it is absent.
    let rec remove (m: byte[]) (s: float) (n: ZNode) : ZNode =
        if isNull n then n
        else
            let c = compare s m n.Score n.Member

            if c < 0 then balance n.Member n.Score (remove m s n.Left) n.Right
            elif c > 0 then balance n.Member n.Score n.Left (remove m s n.Right)
            else glue n.Left n.Right

    /// 0-based rank of a (score, member) known to be in the tree.
    let rank (m: byte[]) (s: float) (root: ZNode) : int =
        let mutable n = root
        let mutable acc = 0
        let mutable found = -1

        while found < 0 && not (isNull n) do
            let c = compare s m n.Score n.Member

            if c < 0 then n <- n.Left
            elif c > 0 then
                acc <- acc + size n.Left + 1
                n <- n.Right
            else found <- acc + size n.Left

        found

    /// The element at 0-based rank `i` (0 <= i < size).
    let select (i: int) (root: ZNode) : ZNode =
        let mutable n = root
        let mutable i = i
        let mutable result = null

        while isNull result do
            let ls = size n.Left

            if i < ls then n <- n.Left
            elif i = ls then result <- n
            else
                i <- i - ls - 1
                n <- n.Right

        result

    /// How many elements come before the first one for which `before` is false; `before` must hold for a
    /// prefix of the order (a lower bound). O(log n).
    let inline countBefore ([<InlineIfLambda>] before: ZNode -> bool) (root: ZNode) : int =
        let mutable n = root
        let mutable acc = 0

        while not (isNull n) do
            if before n then
                acc <- acc + size n.Left + 1
                n <- n.Right
            else n <- n.Left

        acc

    /// The elements of ranks lo .. hi-1, ascending, into `out`. O(log n + (hi - lo)).
    let rec collect (lo: int) (hi: int) (n: ZNode) (first: int) (out: ResizeArray<struct (byte[] * float)>) : unit =
        if not (isNull n) then
            let r = first + size n.Left

            if lo < r then collect lo hi n.Left first out
            if lo <= r && r < hi then out.Add(struct (n.Member, n.Score))
            if hi > r + 1 then collect lo hi n.Right (r + 1) out

    /// A perfectly balanced tree of sorted, distinct elements. O(n).
    let rec ofSorted (items: struct (byte[] * float)[]) (lo: int) (hi: int) : ZNode =
        if lo >= hi then null
        else
            let mid = (lo + hi) >>> 1
            let struct (m, s) = items[mid]
            ZNode(m, s, ofSorted items lo mid, ofSorted items (mid + 1) hi, hi - lo)

    let rec iter (f: byte[] -> float -> unit) (n: ZNode) : unit =
        if not (isNull n) then
            iter f n.Left
            f n.Member n.Score
            iter f n.Right

    /// The balance and order invariants hold (tests).
    let rec valid (n: ZNode) : bool =
        if isNull n then true
        else
            let l, r = size n.Left, size n.Right

            n.Size = l + r + 1
            && (l + r <= 1 || (l <= Delta * r && r <= Delta * l))
            && (isNull n.Left || compare n.Left.Score n.Left.Member n.Score n.Member < 0)
            && (isNull n.Right || compare n.Right.Score n.Right.Member n.Score n.Member > 0)
            && valid n.Left
            && valid n.Right

/// A persistent sorted set: members ordered by (score, member), with each member's score at hand.
[<Sealed>]
type ZSet internal (root: ZNode, scores: ChampMap<float>) =
    member internal _.Root = root
    member _.Scores = scores
    member _.Count = Champ.count scores

/// One end of a score range: `(5` excludes 5, `5` includes it.
[<Struct>]
type ScoreBound = { Value: float; Exclusive: bool }

/// One end of a lex range: `-`, `+`, `[m` (inclusive), `(m` (exclusive).
[<RequireQualifiedAccess; Struct>]
type LexBound =
    | NegInf
    | PosInf
    | Incl of incl: byte[]
    | Excl of excl: byte[]

module ZSet =
    let empty = ZSet(null, Champ.empty)
    let count (z: ZSet) = z.Count
    let isEmpty (z: ZSet) = z.Count = 0

    let tryScore (mem: byte[]) (z: ZSet) : float voption = Champ.tryFind mem z.Scores

    /// Redis's small sorted sets (listpacks: at most 128 members of at most 64 bytes) store a zero score as
    /// 0 whatever its sign, its big ones (skiplists) keep -0: the score a set of `count` members stores
    /// when one of `memberLength` bytes is written with `s`. (Redis's encoding also depends on history: a
    /// set that was once big stays a skiplist; that is not modelled.)
    let storedScore (count: int) (memberLength: int) (s: float) : float =
        if s = 0.0 && count <= 128 && memberLength <= 64 then 0.0 else s

    /// The set with `mem` at `score` (added, or moved when its score changed).
    let add (mem: byte[]) (score: float) (z: ZSet) : ZSet =
        match Champ.tryFind mem z.Scores with
        // Redis compares with ==: -0 and 0 are the same score, and the stored one stays.
        | ValueSome old when old = score -> z
        | ValueSome old -> ZSet(ZTree.insert mem score (ZTree.remove mem old z.Root), Champ.add mem score z.Scores)
        | ValueNone -> ZSet(ZTree.insert mem score z.Root, Champ.add mem score z.Scores)

    let remove (mem: byte[]) (z: ZSet) : ZSet =
        match Champ.tryFind mem z.Scores with
        | ValueSome old -> ZSet(ZTree.remove mem old z.Root, Champ.remove mem z.Scores)
        | ValueNone -> z

    /// 0-based ascending rank of a member.
    let rank (mem: byte[]) (z: ZSet) : int voption =
        match Champ.tryFind mem z.Scores with
        | ValueSome s -> ValueSome(ZTree.rank mem s z.Root)
        | ValueNone -> ValueNone

    /// The element at ascending rank `i` (0 <= i < count).
    let item (i: int) (z: ZSet) : struct (byte[] * float) =
        let n = ZTree.select i z.Root
        struct (n.Member, n.Score)

    /// Elements of ascending ranks start .. stop-1 (clamped), in ascending order.
    let slice (start: int) (stop: int) (z: ZSet) : struct (byte[] * float)[] =
        let start = max 0 start
        let stop = min z.Count stop

        if start >= stop then [||]
        else
            let out = ResizeArray(stop - start)
            ZTree.collect start stop z.Root 0 out
            out.ToArray()

    /// The rank where a score range starting at `min` begins: elements below it.
    let scoreStart (min: ScoreBound) (z: ZSet) : int =
        let v = min.Value

        if min.Exclusive then ZTree.countBefore (fun n -> n.Score <= v) z.Root
        else ZTree.countBefore (fun n -> n.Score < v) z.Root

    /// The rank just past a score range ending at `max`: elements up to it.
    let scoreStop (max: ScoreBound) (z: ZSet) : int =
        let v = max.Value

        if max.Exclusive then ZTree.countBefore (fun n -> n.Score < v) z.Root
        else ZTree.countBefore (fun n -> n.Score <= v) z.Root

    /// As `scoreStart` for members; meaningful (as in Redis) when all scores are equal.
    let lexStart (min: LexBound) (z: ZSet) : int =
        match min with
        | LexBound.NegInf -> 0
        | LexBound.PosInf -> z.Count
        | LexBound.Incl m -> ZTree.countBefore (fun n -> Bytes.compare n.Member m < 0) z.Root
        | LexBound.Excl m -> ZTree.countBefore (fun n -> Bytes.compare n.Member m <= 0) z.Root

    let lexStop (max: LexBound) (z: ZSet) : int =
        match max with
        | LexBound.NegInf -> 0
        | LexBound.PosInf -> z.Count
        | LexBound.Incl m -> ZTree.countBefore (fun n -> Bytes.compare n.Member m <= 0) z.Root
        | LexBound.Excl m -> ZTree.countBefore (fun n -> Bytes.compare n.Member m < 0) z.Root

    /// Ascending by (score, member): member and score.
    let toSeq (z: ZSet) : seq<struct (byte[] * float)> =
        seq {
            // An explicit stack: no recursion depth and no nested enumerators.
            let stack = Collections.Generic.Stack<ZNode>()
            let mutable n = z.Root

            while not (isNull n) || stack.Count > 0 do
                while not (isNull n) do
                    stack.Push n
                    n <- n.Left

                let top = stack.Pop()
                yield struct (top.Member, top.Score)
                n <- top.Right
        }

    let iter (f: byte[] -> float -> unit) (z: ZSet) : unit = ZTree.iter f z.Root

    let private byOrder (struct (m1: byte[], s1: float)) (struct (m2: byte[], s2: float)) = ZTree.compare s1 m1 s2 m2

    /// Built in O(n log n) (one sort); a member given twice keeps its last score.
    let ofSeq (items: seq<struct (byte[] * float)>) : ZSet =
        let t = Champ.toTransient Champ.empty

        for struct (m, s) in items do
            t.Set(m, s)

        let scores = t.Persist()
        let arr = Array.zeroCreate<struct (byte[] * float)> (Champ.count scores)
        let mutable i = 0

        scores
        |> Champ.iter (fun m s ->
            arr[i] <- struct (m, s)
            i <- i + 1)

        Array.sortInPlaceWith byOrder arr
        ZSet(ZTree.ofSorted arr 0 arr.Length, scores)

    /// The tree is balanced, ordered, and holds exactly the map's members (tests).
    let isValid (z: ZSet) : bool =
        ZTree.valid z.Root
        && ZTree.size z.Root = Champ.count z.Scores
        && (let mutable ok = true
            ZTree.iter (fun m s -> ok <- ok && (Champ.tryFind m z.Scores = ValueSome s)) z.Root
            ok)
