namespace Aof.Core

open System
open System.Numerics

/// Who may edit a map's nodes in place: nodes carry the owner that created them, and an update by that
/// owner changes them instead of copying the path. A short-lived transient is `roomy` (nodes keep spare
/// room to grow into, trimmed when it is persisted); a long-lived owner, whose maps are read between its
/// edits, keeps every array exact. Whoever holds an owner must not use a map after editing a newer one
/// made from it, and must take a new owner before handing a map to anyone who keeps it.
[<Sealed; AllowNullLiteral>]
type ChampOwner(roomy: bool) =
    member _.Roomy = roomy

/// The trie underneath `ChampMap` (Steindorff & Vinju's CHAMP), specialised for `byte[]` keys.
///
/// A node holds two 32-bit bitmaps over the 5-bit hash chunk of its level: `DataMap` marks slots whose
/// single key is stored inline in `Pairs`, `NodeMap` marks slots delegated to a sub-node in `Children`.
/// Both arrays are dense, ordered by slot. Once all 32 hash bits are used (shift >= 32) a node is a
/// collision node: bitmaps are zero and `Pairs` lists the keys sharing that full hash.
///
/// Canonical form (kept by every update): a non-root node always holds at least two keys in its subtree,
/// and a key sits inline at the shallowest level whose hash prefix tells it apart from every other key.
/// So the shape is a function of the key set alone, whatever the order of updates.
module internal ChampTrie =

    /// Nodes created by an owner carry it and may be mutated in place by it; persistent nodes carry null
    /// and are never mutated.
    type Owner = ChampOwner

    [<Struct; NoEquality; NoComparison>]
    type Pair<'V> =
        val Key: byte[]
        val Value: 'V
        new(key, value) = { Key = key; Value = value }

    /// Invariant for owned nodes: their arrays belong to them alone (fresh or cloned), so writing into an
    /// array in place can never show through another node. An owned bitmap node's `Pairs` may also have
    /// spare room at the end (its pair count is the popcount of `DataMap`), so a transient's inserts mostly
    /// shift in place instead of reallocating; `seal` trims that room when the transient is persisted, so
    /// in every map `Pairs.Length` is the exact count.
    [<Sealed; NoEquality; NoComparison>]
    type Node<'V> =
        val mutable Owner: Owner
        val mutable DataMap: uint32
        val mutable NodeMap: uint32
        val mutable Pairs: Pair<'V>[]
        val mutable Children: Node<'V>[]

        new(owner, dataMap, nodeMap, pairs, children) =
            { Owner = owner
              DataMap = dataMap
              NodeMap = nodeMap
              Pairs = pairs
              Children = children }

    [<Literal>]
    let Bits = 5

    /// At or past this shift the hash is used up and a node is a collision node.
    [<Literal>]
    let HashBits = 32

    let inline hashOf (key: byte[]) : uint32 = uint32 (Bytes.hash key)
    let inline chunk (hash: uint32) (shift: int) : int = int ((hash >>> shift) &&& 31u)
    let inline bitFor (hash: uint32) (shift: int) : uint32 = 1u <<< chunk hash shift
    let inline indexOf (bitmap: uint32) (bit: uint32) : int = BitOperations.PopCount(bitmap &&& (bit - 1u))

    let inline editable (owner: Owner) (n: Node<'V>) : bool =
        not (isNull owner) && obj.ReferenceEquals(n.Owner, owner)

    let emptyNode<'V> () : Node<'V> =
        Node<'V>(null, 0u, 0u, Array.Empty<Pair<'V>>(), Array.Empty<Node<'V>>())

    let insertAt (arr: 'T[]) (i: int) (x: 'T) : 'T[] =
        let r = Array.zeroCreate (arr.Length + 1)
        Array.Copy(arr, 0, r, 0, i)
        r[i] <- x
        Array.Copy(arr, i, r, i + 1, arr.Length - i)
        r

    let removeAt (arr: 'T[]) (i: int) : 'T[] =
        if arr.Length = 1 then
            Array.Empty<'T>()
        else
            let r = Array.zeroCreate (arr.Length - 1)
            Array.Copy(arr, 0, r, 0, i)
            Array.Copy(arr, i + 1, r, i, arr.Length - i - 1)
            r

    let replaceAt (arr: 'T[]) (i: int) (x: 'T) : 'T[] =
        let r = Array.copy arr
        r[i] <- x
        r

    /// An array a new node may keep: persistent nodes share it, an owned node needs its own copy.
    let inline keep (owner: Owner) (arr: 'T[]) : 'T[] =
        if isNull owner || arr.Length = 0 then arr else Array.copy arr

    /// Pairs in use in a node reached during an update (a bitmap node's array may have spare room; a
    /// collision node's, with both bitmaps zero, never has).
    let inline pairCount (n: Node<'V>) : int =
        if n.DataMap = 0u && n.NodeMap = 0u then
            n.Pairs.Length
        else
            BitOperations.PopCount n.DataMap

    /// `n`'s pairs with `p` inserted at `i`: shifted in place when `n` is owned and has room; in a transient,
    /// otherwise, a new array with room to grow; in a persistent update, an exact copy.
    let withPair (owner: Owner) (n: Node<'V>) (i: int) (p: Pair<'V>) : Pair<'V>[] =
        let pairs = n.Pairs
        let count = BitOperations.PopCount n.DataMap

        if editable owner n && count < pairs.Length then
            Array.Copy(pairs, i, pairs, i + 1, count - i)
            pairs[i] <- p
            pairs
        elif isNull owner || not owner.Roomy then
            insertAt pairs i p
        else
            let r = Array.zeroCreate (min 32 (max 4 (2 * count)))
            Array.Copy(pairs, 0, r, 0, i)
            r[i] <- p
            Array.Copy(pairs, i, r, i + 1, count - i)
            r

    /// `n`'s pairs without the one at `i`: closed up in place when `n` is owned by a roomy owner, else an
    /// exact copy.
    let withoutPair (owner: Owner) (n: Node<'V>) (i: int) : Pair<'V>[] =
        if editable owner n && owner.Roomy then
            let pairs = n.Pairs
            let count = BitOperations.PopCount n.DataMap
            Array.Copy(pairs, i + 1, pairs, i, count - i - 1)
            // Clear the vacated slot so the GC does not keep the removed key and value alive.
            pairs[count - 1] <- Unchecked.defaultof<_>
            pairs
        else
            removeAt n.Pairs i

    /// Index of `key` in a collision node, or -1.
    let collisionIndex (n: Node<'V>) (key: byte[]) : int =
        let pairs = n.Pairs
        let mutable i = 0

        while i < pairs.Length && not (Bytes.equal pairs[i].Key key) do
            i <- i + 1

        if i < pairs.Length then i else -1

    let tryFind (root: Node<'V>) (key: byte[]) : 'V voption =
        let hash = hashOf key
        let mutable n = root
        let mutable shift = 0
        let mutable result = ValueNone
        let mutable searching = true

        while searching do
            if shift >= HashBits then
                let i = collisionIndex n key

                if i >= 0 then
                    result <- ValueSome n.Pairs[i].Value

                searching <- false
            else
                let bit = bitFor hash shift

                if n.DataMap &&& bit <> 0u then
                    let p = n.Pairs[indexOf n.DataMap bit]

                    if Bytes.equal p.Key key then
                        result <- ValueSome p.Value

                    searching <- false
                elif n.NodeMap &&& bit <> 0u then
                    n <- n.Children[indexOf n.NodeMap bit]
                    shift <- shift + Bits
                else
                    searching <- false

        result

    /// The smallest subtree holding two distinct keys, rooted at `shift`.
    let rec mergeTwo (owner: Owner) (a: Pair<'V>) (ha: uint32) (b: Pair<'V>) (hb: uint32) (shift: int) : Node<'V> =
        if shift >= HashBits then
            Node(owner, 0u, 0u, [| a; b |], Array.Empty())
        else
            let ca = chunk ha shift
            let cb = chunk hb shift

            if ca = cb then
                Node(owner, 0u, 1u <<< ca, Array.Empty(), [| mergeTwo owner a ha b hb (shift + Bits) |])
            else
                let pairs = if ca < cb then [| a; b |] else [| b; a |]
                Node(owner, (1u <<< ca) ||| (1u <<< cb), 0u, pairs, Array.Empty())

    let setPair (owner: Owner) (n: Node<'V>) (i: int) (p: Pair<'V>) : Node<'V> =
        if editable owner n then
            n.Pairs[i] <- p
            n
        else
            Node(owner, n.DataMap, n.NodeMap, replaceAt n.Pairs i p, keep owner n.Children)

    let setChild (owner: Owner) (n: Node<'V>) (j: int) (c: Node<'V>) : Node<'V> =
        if editable owner n then
            n.Children[j] <- c
            n
        else
            Node(owner, n.DataMap, n.NodeMap, keep owner n.Pairs, replaceAt n.Children j c)

    let addPair (owner: Owner) (n: Node<'V>) (bit: uint32) (p: Pair<'V>) : Node<'V> =
        let pairs = withPair owner n (indexOf n.DataMap bit) p

        if editable owner n then
            n.DataMap <- n.DataMap ||| bit
            n.Pairs <- pairs
            n
        else
            Node(owner, n.DataMap ||| bit, n.NodeMap, pairs, keep owner n.Children)

    let removePair (owner: Owner) (n: Node<'V>) (bit: uint32) (i: int) : Node<'V> =
        let pairs = withoutPair owner n i

        if editable owner n then
            n.DataMap <- n.DataMap ^^^ bit
            n.Pairs <- pairs
            n
        else
            Node(owner, n.DataMap ^^^ bit, n.NodeMap, pairs, keep owner n.Children)

    /// The inline pair at `i` and a new key now share a slot: they move down into sub-node `c`.
    let pairToChild (owner: Owner) (n: Node<'V>) (bit: uint32) (i: int) (c: Node<'V>) : Node<'V> =
        let pairs = withoutPair owner n i
        let children = insertAt n.Children (indexOf n.NodeMap bit) c

        if editable owner n then
            n.DataMap <- n.DataMap ^^^ bit
            n.NodeMap <- n.NodeMap ||| bit
            n.Pairs <- pairs
            n.Children <- children
            n
        else
            Node(owner, n.DataMap ^^^ bit, n.NodeMap ||| bit, pairs, children)

    /// Sub-node `j` shrank to the single pair `p`: canonical form wants it inline here.
    let childToPair (owner: Owner) (n: Node<'V>) (bit: uint32) (j: int) (p: Pair<'V>) : Node<'V> =
        let children = removeAt n.Children j
        let pairs = withPair owner n (indexOf n.DataMap bit) p

        if editable owner n then
            n.DataMap <- n.DataMap ||| bit
            n.NodeMap <- n.NodeMap ^^^ bit
            n.Pairs <- pairs
            n.Children <- children
            n
        else
            Node(owner, n.DataMap ||| bit, n.NodeMap ^^^ bit, pairs, children)

    /// A collision node with `pairs`: updated in place when owned, otherwise a new node.
    let withCollisionPairs (owner: Owner) (n: Node<'V>) (pairs: Pair<'V>[]) : Node<'V> =
        if editable owner n then
            n.Pairs <- pairs
            n
        else
            Node(owner, 0u, 0u, pairs, Array.Empty())

    /// Sets `key`; `added` becomes true when the key was new. Returns `n` itself when it was edited in place.
    let rec insert
        (owner: Owner)
        (n: Node<'V>)
        (key: byte[])
        (hash: uint32)
        (shift: int)
        (value: 'V)
        (added: byref<bool>)
        : Node<'V> =
        if shift >= HashBits then
            let i = collisionIndex n key

            if i >= 0 then
                setPair owner n i (Pair(n.Pairs[i].Key, value))
            else
                added <- true
                withCollisionPairs owner n (insertAt n.Pairs n.Pairs.Length (Pair(key, value)))
        else
            let bit = bitFor hash shift

            if n.DataMap &&& bit <> 0u then
                let i = indexOf n.DataMap bit
                let p = n.Pairs[i]

                if Bytes.equal p.Key key then
                    // Keep the stored key array: equal content, and it may already be shared.
                    setPair owner n i (Pair(p.Key, value))
                else
                    added <- true
                    let sub = mergeTwo owner p (hashOf p.Key) (Pair(key, value)) hash (shift + Bits)
                    pairToChild owner n bit i sub
            elif n.NodeMap &&& bit <> 0u then
                let j = indexOf n.NodeMap bit
                let child = n.Children[j]
                let child' = insert owner child key hash (shift + Bits) value &added

                if obj.ReferenceEquals(child', child) then
                    n
                else
                    setChild owner n j child'
            else
                added <- true
                addPair owner n bit (Pair(key, value))

    /// Removes `key`; `removed` becomes true when it was present. A non-root result holding a single pair
    /// and no sub-node is handed up so that an ancestor stores the pair inline (canonical form).
    let rec remove (owner: Owner) (n: Node<'V>) (key: byte[]) (hash: uint32) (shift: int) (removed: byref<bool>) : Node<'V> =
        if shift >= HashBits then
            let i = collisionIndex n key

            if i < 0 then
                n
            else
                removed <- true
                withCollisionPairs owner n (removeAt n.Pairs i)
        else
            let bit = bitFor hash shift

            if n.DataMap &&& bit <> 0u then
                let i = indexOf n.DataMap bit

                if Bytes.equal n.Pairs[i].Key key then
                    removed <- true
                    removePair owner n bit i
                else
                    n
            elif n.NodeMap &&& bit <> 0u then
                let j = indexOf n.NodeMap bit
                let child = n.Children[j]
                let child' = remove owner child key hash (shift + Bits) &removed

                if not removed then
                    n
                elif child'.NodeMap = 0u && pairCount child' = 1 then
                    if shift > 0 && n.DataMap = 0u && n.Children.Length = 1 then
                        // This node would be left with just that pair: let the parent inline it.
                        child'
                    else
                        childToPair owner n bit j child'.Pairs[0]
                elif obj.ReferenceEquals(child', child) then
                    n
                else
                    setChild owner n j child'
            else
                n

    /// Ends a transient's ownership of its nodes: trims their spare room and clears their owner. Owned
    /// nodes hang only below owned nodes (an update copies the whole path to a node it takes over), so
    /// the walk visits just the nodes the transient created.
    let rec seal (owner: Owner) (shift: int) (n: Node<'V>) : unit =
        if editable owner n then
            n.Owner <- null

            if shift < HashBits then
                let count = BitOperations.PopCount n.DataMap

                if count < n.Pairs.Length then
                    n.Pairs <- if count = 0 then Array.Empty() else Array.sub n.Pairs 0 count

            for c in n.Children do
                seal owner (shift + Bits) c

    /// What a slot holds once a run is merged into it.
    [<Struct; NoEquality; NoComparison>]
    type Slot<'V> =
        | Vacant
        | Inline of pair: Pair<'V>
        | Below of node: Node<'V>

    /// Merges a run of updates, sorted by `trieOrder` of their hashes (a key's updates in their order), into
    /// a trie in one walk: each node on the run's paths is rebuilt once with exact arrays, instead of once
    /// per key. `update current i` gives the i-th update's new value from the key's current one; it may leave
    /// a missing key missing, but never removes a present key (a run only adds and replaces).
    [<Sealed>]
    type RunMerge<'V>
        (
            owner: Owner,
            hashes: uint32[],
            keys: byte[][],
            update: OptimizedClosures.FSharpFunc<'V voption, int, 'V voption>
        ) =
        // One slot table per level, reused: the walk rebuilds one node per level at a time, so no level's table
        // is ever needed twice at once. Every rebuild leaves its table all Vacant for the next.
        let slots: Slot<'V>[][] = Array.init (HashBits / Bits + 2) (fun _ -> Array.zeroCreate 32)
        let mutable added = 0

        member _.Added = added

        /// Applies updates lo..hi-1, which share one full hash, to the pairs already holding that hash.
        member private _.FoldSameHash(existing: Pair<'V>[], lo: int, hi: int) : Pair<'V>[] =
            let pairs = ResizeArray<Pair<'V>>(existing)

            for i in lo .. hi - 1 do
                let key = keys[i]
                let mutable at = 0

                while at < pairs.Count && not (Bytes.equal pairs[at].Key key) do
                    at <- at + 1

                if at < pairs.Count then
                    match update.Invoke(ValueSome pairs[at].Value, i) with
                    | ValueSome v -> pairs[at] <- Pair(pairs[at].Key, v)
                    | ValueNone -> invalidOp "a merged run may not remove a key"
                else
                    match update.Invoke(ValueNone, i) with
                    | ValueSome v ->
                        added <- added + 1
                        pairs.Add(Pair(key, v))
                    | ValueNone -> ()

            pairs.ToArray()

        /// Pairs sharing one hash, placed as canonical form wants them from `shift` down.
        member private this.Place(pairs: Pair<'V>[], hash: uint32, shift: int) : Slot<'V> =
            if pairs.Length = 0 then Vacant
            elif pairs.Length = 1 then Inline pairs[0]
            else Below(this.Chain(pairs, hash, shift))

        /// Two or more pairs of one hash: single-child nodes down to the collision node that holds them.
        member private this.Chain(pairs: Pair<'V>[], hash: uint32, shift: int) : Node<'V> =
            if shift >= HashBits then Node(owner, 0u, 0u, pairs, Array.Empty())
            else Node(owner, 0u, bitFor hash shift, Array.Empty(), [| this.Chain(pairs, hash, shift + Bits) |])

        /// Merges updates lo..hi-1 (all on the same path down to `shift`) into what the slot holds.
        member this.Merge(existing: Slot<'V>, shift: int, lo: int, hi: int) : Slot<'V> =
            if lo = hi then
                existing
            else
                let hash = hashes[lo]
                let sameHash = hashes[hi - 1] = hash

                match existing with
                | Vacant when hi - lo = 1 ->
                    // The common case by far: one new key.
                    match update.Invoke(ValueNone, lo) with
                    | ValueSome v ->
                        added <- added + 1
                        Inline(Pair(keys[lo], v))
                    | ValueNone -> Vacant
                | Inline p when hi - lo = 1 && hashOf p.Key = hash && Bytes.equal p.Key keys[lo] ->
                    match update.Invoke(ValueSome p.Value, lo) with
                    | ValueSome v -> Inline(Pair(p.Key, v))
                    | ValueNone -> invalidOp "a merged run may not remove a key"
                | Vacant when sameHash -> this.Place(this.FoldSameHash(Array.Empty(), lo, hi), hash, shift)
                | Inline p when sameHash && hashOf p.Key = hash -> this.Place(this.FoldSameHash([| p |], lo, hi), hash, shift)
                | Below n when shift >= HashBits -> this.Place(this.FoldSameHash(n.Pairs, lo, hi), hash, shift)
                | _ -> this.Split(existing, shift, lo, hi)

        /// Distributes the run over the 32 slots of a node at `shift` and rebuilds that node.
        member private this.Split(existing: Slot<'V>, shift: int, lo: int, hi: int) : Slot<'V> =
            let table = slots[shift / Bits]
            let mutable dataMap = 0u
            let mutable nodeMap = 0u

            // What the slots hold now.
            match existing with
            | Vacant -> ()
            | Inline p ->
                let bit = bitFor (hashOf p.Key) shift
                dataMap <- bit
                table[chunk (hashOf p.Key) shift] <- Inline p
            | Below n ->
                dataMap <- n.DataMap
                nodeMap <- n.NodeMap
                let mutable i = 0
                let mutable j = 0

                for c in 0..31 do
                    let bit = 1u <<< c

                    if n.DataMap &&& bit <> 0u then
                        table[c] <- Inline n.Pairs[i]
                        i <- i + 1
                    elif n.NodeMap &&& bit <> 0u then
                        table[c] <- Below n.Children[j]
                        j <- j + 1

            // Each slot's updates are contiguous: merge them in, one slot at a time.
            let mutable start = lo

            while start < hi do
                let c = chunk hashes[start] shift
                let mutable stop = start + 1

                while stop < hi && chunk hashes[stop] shift = c do
                    stop <- stop + 1

                let bit = 1u <<< c

                let current =
                    if (dataMap ||| nodeMap) &&& bit = 0u then Vacant else table[c]

                let merged = this.Merge(current, shift + Bits, start, stop)
                table[c] <- merged
                dataMap <- dataMap &&& ~~~bit
                nodeMap <- nodeMap &&& ~~~bit

                match merged with
                | Vacant -> ()
                | Inline _ -> dataMap <- dataMap ||| bit
                | Below _ -> nodeMap <- nodeMap ||| bit

                start <- stop

            let pairCount = BitOperations.PopCount dataMap
            let childCount = BitOperations.PopCount nodeMap

            if childCount = 0 && pairCount <= 1 && shift > 0 then
                // Canonical form: a subtree of one key is that key, inline in its parent.
                let single = if pairCount = 0 then Vacant else table[BitOperations.TrailingZeroCount dataMap]
                Array.Clear table
                single
            else
                let pairs = if pairCount = 0 then Array.Empty() else Array.zeroCreate pairCount
                let children = if childCount = 0 then Array.Empty() else Array.zeroCreate childCount
                let mutable i = 0
                let mutable j = 0

                for c in 0..31 do
                    let bit = 1u <<< c

                    if dataMap &&& bit <> 0u then
                        match table[c] with
                        | Inline p -> pairs[i] <- p
                        | _ -> invalidOp "data slot without a pair"

                        i <- i + 1
                    elif nodeMap &&& bit <> 0u then
                        match table[c] with
                        | Below n -> children[j] <- n
                        | _ -> invalidOp "node slot without a node"

                        j <- j + 1

                    table[c] <- Vacant

                Below(Node(owner, dataMap, nodeMap, pairs, children))

    let rec fold (f: OptimizedClosures.FSharpFunc<'S, byte[], 'V, 'S>) (state: 'S) (n: Node<'V>) : 'S =
        let mutable s = state

        for p in n.Pairs do
            s <- f.Invoke(s, p.Key, p.Value)

        for c in n.Children do
            s <- fold f s c

        s

    let rec iter (f: OptimizedClosures.FSharpFunc<byte[], 'V, unit>) (n: Node<'V>) : unit =
        for p in n.Pairs do
            f.Invoke(p.Key, p.Value)

        for c in n.Children do
            iter f c

    let rec toSeq (n: Node<'V>) : seq<byte[] * 'V> =
        seq {
            for p in n.Pairs do
                yield p.Key, p.Value

            for c in n.Children do
                yield! toSeq c
        }

    let rec equalNodes (eq: OptimizedClosures.FSharpFunc<'V, 'V, bool>) (shift: int) (a: Node<'V>) (b: Node<'V>) : bool =
        if obj.ReferenceEquals(a, b) then
            true
        elif shift >= HashBits then
            // Collision nodes keep insertion order: compare them as sets.
            a.Pairs.Length = b.Pairs.Length
            && a.Pairs
               |> Array.forall (fun p ->
                   let i = collisionIndex b p.Key
                   i >= 0 && eq.Invoke(p.Value, b.Pairs[i].Value))
        elif a.DataMap <> b.DataMap || a.NodeMap <> b.NodeMap then
            false
        else
            let mutable same = true
            let mutable i = 0

            while same && i < a.Pairs.Length do
                let pa = a.Pairs[i]
                let pb = b.Pairs[i]
                same <- Bytes.equal pa.Key pb.Key && eq.Invoke(pa.Value, pb.Value)
                i <- i + 1

            i <- 0

            while same && i < a.Children.Length do
                same <- equalNodes eq (shift + Bits) a.Children[i] b.Children[i]
                i <- i + 1

            same

    /// A key's place in trie order: hash chunks read from the root down, the root's chunk most significant.
    let trieOrder (hash: uint32) : uint32 =
        (uint32 (chunk hash 0) <<< 27)
        ||| (uint32 (chunk hash 5) <<< 22)
        ||| (uint32 (chunk hash 10) <<< 17)
        ||| (uint32 (chunk hash 15) <<< 12)
        ||| (uint32 (chunk hash 20) <<< 7)
        ||| (uint32 (chunk hash 25) <<< 2)
        ||| (hash >>> 30)

    /// The hash whose trie order is `pos` (inverse of `trieOrder`).
    let hashAt (pos: uint32) : uint32 =
        ((pos >>> 27) &&& 31u)
        ||| (((pos >>> 22) &&& 31u) <<< 5)
        ||| (((pos >>> 17) &&& 31u) <<< 10)
        ||| (((pos >>> 12) &&& 31u) <<< 15)
        ||| (((pos >>> 7) &&& 31u) <<< 20)
        ||| (((pos >>> 2) &&& 31u) <<< 25)
        ||| ((pos &&& 3u) <<< 30)

    /// One SCAN step: visits pairs in trie order from position `start`, takes `wanted` of them (a
    /// collision node whole), then notes where the next pair sits so the cursor can skip the gap.
    [<Sealed>]
    type ScanStep<'V>(start: uint32, wanted: int) =
        let startHash = hashAt start
        let mutable taken: (byte[] * 'V) list = []
        let mutable count = 0
        let mutable next = -1L

        member _.Taken = List.rev taken
        /// Trie position of the first pair not taken, or -1 when the walk reached the end.
        member _.Next = next

        /// Visits a pair known to lie at or after `start`; true when the step is complete.
        member private _.Visit(p: Pair<'V>) : bool =
            if count < wanted then
                taken <- (p.Key, p.Value) :: taken
                count <- count + 1
                false
            else
                next <- int64 (trieOrder (hashOf p.Key))
                true

        /// `tight`: the path to `n` equals the prefix of `start`, so slots before it were visited earlier.
        member this.Walk(n: Node<'V>, shift: int, tight: bool) : bool =
            if shift >= HashBits then
                // Every key here has one hash, at or after `start` (equal to it when tight).
                if count < wanted then
                    for p in n.Pairs do
                        taken <- (p.Key, p.Value) :: taken

                    count <- count + n.Pairs.Length
                    false
                else
                    next <- int64 (trieOrder (hashOf n.Pairs[0].Key))
                    true
            else
                let first = if tight then chunk startHash shift else 0
                let mutable slots = (n.DataMap ||| n.NodeMap) &&& ~~~((1u <<< first) - 1u)
                let mutable stop = false

                while not stop && slots <> 0u do
                    let slot = BitOperations.TrailingZeroCount slots
                    let bit = 1u <<< slot
                    slots <- slots &&& (slots - 1u)
                    let onPath = tight && slot = first

                    if n.DataMap &&& bit <> 0u then
                        let p = n.Pairs[indexOf n.DataMap bit]

                        if not onPath || trieOrder (hashOf p.Key) >= start then
                            stop <- this.Visit p
                    else
                        stop <- this.Walk(n.Children[indexOf n.NodeMap bit], shift + Bits, onPath)

                stop

    /// Why `n` breaks the trie's invariants, if it does (for tests); also returns the key count.
    let rec check (n: Node<'V>) (shift: int) (prefix: uint32) (isRoot: bool) (keys: byref<int>) : string option =
        let prefixMask = if shift >= HashBits then UInt32.MaxValue else (1u <<< shift) - 1u
        let badPrefix = n.Pairs |> Array.tryFind (fun p -> (hashOf p.Key &&& prefixMask) <> prefix)

        if badPrefix.IsSome then
            Some $"pair at shift {shift} is off its hash path"
        elif shift >= HashBits then
            keys <- keys + n.Pairs.Length

            if n.DataMap <> 0u || n.NodeMap <> 0u || n.Children.Length <> 0 then
                Some "collision node with bitmaps or children"
            elif n.Pairs.Length < 2 then
                Some "collision node with fewer than two keys"
            elif n.Pairs |> Array.mapi (fun i p -> collisionIndex n p.Key <> i) |> Array.exists id then
                Some "collision node with a duplicate key"
            else
                None
        elif n.DataMap &&& n.NodeMap <> 0u then
            Some "slot marked both inline and sub-node"
        elif BitOperations.PopCount n.DataMap <> n.Pairs.Length then
            Some "data bitmap and pairs disagree"
        elif BitOperations.PopCount n.NodeMap <> n.Children.Length then
            Some "node bitmap and children disagree"
        elif not isRoot && n.Children.Length = 0 && n.Pairs.Length < 2 then
            Some $"non-canonical node at shift {shift}: {n.Pairs.Length} pair(s) and no sub-node"
        else
            let before = keys
            keys <- keys + n.Pairs.Length
            let mutable problem = None
            let mutable rest = n.NodeMap

            while problem.IsNone && rest <> 0u do
                let slot = BitOperations.TrailingZeroCount rest
                let bit = 1u <<< slot
                rest <- rest &&& (rest - 1u)
                let child = n.Children[indexOf n.NodeMap bit]
                problem <- check child (shift + Bits) (prefix ||| (uint32 slot <<< shift)) false &keys

            if problem.IsNone && not isRoot && keys - before < 2 then
                Some "non-root subtree with fewer than two keys"
            else
                problem

open ChampTrie

/// A persistent hash map keyed by byte strings (a CHAMP trie): every update returns a new map that shares
/// all untouched structure with the old one, so a snapshot is just a reference.
[<Sealed>]
type ChampMap<'V> internal (root: Node<'V>, count: int) =
    static let empty = ChampMap<'V>(emptyNode (), 0)
    static member internal Empty = empty
    member internal _.Root = root
    member _.Count = count

/// A short-lived mutable builder for bulk updates (AOF loading, big batches); `Persist` freezes it.
/// Nodes it creates are edited in place; nodes shared with the map it came from are copied on first
/// write, so that map never changes.
[<Sealed>]
type ChampTransient<'V> internal (root: Node<'V>, count: int) =
    let mutable owner = ChampOwner(true)
    let mutable root = root
    let mutable count = count

    member private _.Live() =
        if isNull owner then
            raise (InvalidOperationException "ChampTransient used after Persist()")

    member this.Count =
        this.Live()
        count

    member this.Set(key: byte[], value: 'V) =
        this.Live()
        let mutable added = false
        root <- insert owner root key (hashOf key) 0 value &added

        if added then
            count <- count + 1

    member this.Remove(key: byte[]) =
        this.Live()
        let mutable removed = false
        root <- remove owner root key (hashOf key) 0 &removed

        if removed then
            count <- count - 1

    member this.TryFind(key: byte[]) : 'V voption =
        this.Live()
        tryFind root key

    /// Applies a run of updates in one walk of the trie. The run is `hashes` and `keys` (each key's
    /// `Bytes.hash`) over 0..length-1, sorted by `Champ.trieOrder` of the hash and, for one key, in the order
    /// its updates happen; `update current i` gives the i-th update's new value from the key's current value
    /// (ValueNone: absent), and may leave an absent key absent but never remove a present one.
    member this.MergeRun(hashes: uint32[], keys: byte[][], length: int, update: 'V voption -> int -> 'V voption) =
        this.Live()
        let run = RunMerge(owner, hashes, keys, OptimizedClosures.FSharpFunc<_, _, _>.Adapt update)

        root <-
            match run.Merge(Below root, 0, 0, length) with
            | Below n -> n
            | Inline p -> Node(owner, bitFor (hashOf p.Key) 0, 0u, [| p |], Array.Empty())
            | Vacant -> emptyNode ()

        count <- count + run.Added

    /// Ends the transient: later use of this builder throws InvalidOperationException.
    member this.Persist() : ChampMap<'V> =
        this.Live()
        seal owner 0 root
        owner <- null
        if count = 0 then ChampMap<'V>.Empty else ChampMap(root, count)

module Champ =
    let empty<'V> : ChampMap<'V> = ChampMap<'V>.Empty

    let count (m: ChampMap<'V>) : int = m.Count
    let isEmpty (m: ChampMap<'V>) : bool = m.Count = 0

    let tryFind (key: byte[]) (m: ChampMap<'V>) : 'V voption = ChampTrie.tryFind m.Root key

    let containsKey (key: byte[]) (m: ChampMap<'V>) : bool = (ChampTrie.tryFind m.Root key).IsSome

    /// `add` by `owner`: nodes it owns are edited in place (null: none are, every update copies its path).
    /// When the root itself was edited and no key was added, the result is `m`.
    let addIn (owner: ChampOwner) (key: byte[]) (value: 'V) (m: ChampMap<'V>) : ChampMap<'V> =
        let mutable added = false
        let root = insert owner m.Root key (hashOf key) 0 value &added

        if not added && obj.ReferenceEquals(root, m.Root) then m
        else ChampMap(root, (if added then m.Count + 1 else m.Count))

    /// `remove` by `owner`: nodes it owns are edited in place (null: none are).
    let removeIn (owner: ChampOwner) (key: byte[]) (m: ChampMap<'V>) : ChampMap<'V> =
        let mutable removed = false
        let root = ChampTrie.remove owner m.Root key (hashOf key) 0 &removed

        if not removed then m
        elif m.Count = 1 then empty
        else ChampMap(root, m.Count - 1)

    let add (key: byte[]) (value: 'V) (m: ChampMap<'V>) : ChampMap<'V> = addIn null key value m

    let remove (key: byte[]) (m: ChampMap<'V>) : ChampMap<'V> = removeIn null key m

    let fold (f: 'S -> byte[] -> 'V -> 'S) (state: 'S) (m: ChampMap<'V>) : 'S =
        ChampTrie.fold (OptimizedClosures.FSharpFunc<_, _, _, _>.Adapt f) state m.Root

    let iter (f: byte[] -> 'V -> unit) (m: ChampMap<'V>) : unit =
        ChampTrie.iter (OptimizedClosures.FSharpFunc<_, _, _>.Adapt f) m.Root

    let toSeq (m: ChampMap<'V>) : seq<byte[] * 'V> = ChampTrie.toSeq m.Root

    /// The entries as `pick` maps them, in arrays of at most `size`, in trie order (a rewrite's commands).
    let chunks (size: int) (pick: byte[] -> 'V -> 'T) (m: ChampMap<'V>) : 'T[] list =
        let all = ResizeArray<'T[]>()
        let chunk = ResizeArray<'T>(min size m.Count)

        m
        |> iter (fun k v ->
            chunk.Add(pick k v)

            if chunk.Count = size then
                all.Add(chunk.ToArray())
                chunk.Clear())

        if chunk.Count > 0 then
            all.Add(chunk.ToArray())

        List.ofSeq all

    let toTransient (m: ChampMap<'V>) : ChampTransient<'V> = ChampTransient(m.Root, m.Count)

    /// A hash's place in trie order (its 5-bit chunks from the root's down): `ChampTransient.MergeRun` wants
    /// its run sorted by this, of each key's `Bytes.hash`.
    let trieOrder (hash: uint32) : uint32 = ChampTrie.trieOrder hash

    let ofSeq (items: seq<byte[] * 'V>) : ChampMap<'V> =
        let t = toTransient empty

        for k, v in items do
            t.Set(k, v)

        t.Persist()

    /// Same keys with values equal by `eq`. Walks both tries side by side, skipping shared subtrees, which
    /// the canonical form makes sound: equal key sets have equal shapes.
    let equalsBy (eq: 'V -> 'V -> bool) (a: ChampMap<'V>) (b: ChampMap<'V>) : bool =
        a.Count = b.Count
        && equalNodes (OptimizedClosures.FSharpFunc<_, _, _>.Adapt eq) 0 a.Root b.Root

    /// One step of a SCAN: cursor 0 starts; the next cursor is 0 when the walk is done. Every key present
    /// for the whole walk is returned at least once, however the map changes between steps.
    ///
    /// Keys are visited in trie order (see `ChampTrie.trieOrder`), which does not depend on the map's
    /// contents; a cursor is 1 + the trie position to resume from. Each step returns every key in
    /// [resume position, next cursor's position), so a key present throughout cannot be skipped.
    let scan (cursor: uint64) (count: int) (m: ChampMap<'V>) : struct (uint64 * (byte[] * 'V) list) =
        if cursor > (1UL <<< 32) then
            // Never issued by this function: treat it as past the end rather than wrap around.
            struct (0UL, [])
        else
            let start = if cursor = 0UL then 0u else uint32 (cursor - 1UL)
            let step = ScanStep<'V>(start, max 1 count)
            step.Walk(m.Root, 0, true) |> ignore
            let next = if step.Next < 0L then 0UL else uint64 step.Next + 1UL
            struct (next, step.Taken)

    /// Some entry chosen by `rnd` (a random 64-bit number from the caller), or none when empty.
    /// A random descent: each level picks among its inline pairs and sub-nodes alike, so a key's odds
    /// depend a little on its neighbourhood, but every key can be drawn.
    let randomEntry (rnd: uint64) (m: ChampMap<'V>) : (byte[] * 'V) voption =
        if m.Count = 0 then
            ValueNone
        else
            let mutable n = m.Root
            let mutable r = rnd
            let mutable result = ValueNone

            while result.IsNone do
                let here = n.Pairs.Length
                let i = int (r % uint64 (here + n.Children.Length))

                if i < here then
                    result <- ValueSome(n.Pairs[i].Key, n.Pairs[i].Value)
                else
                    n <- n.Children[i - here]
                    r <- SplitMix.next r

            result

    /// Why `m` breaks the trie's invariants (canonical form, bitmaps, count), if it does. For tests.
    let internal invariantViolation (m: ChampMap<'V>) : string option =
        let mutable keys = 0

        match check m.Root 0 0u true &keys with
        | Some problem -> Some problem
        | None when keys <> m.Count -> Some $"count {m.Count} but {keys} keys"
        | None -> None

module internal ChampAssembly =
    [<assembly: System.Runtime.CompilerServices.InternalsVisibleTo("Aof.Core.Tests")>]
    do ()
