namespace Aof.Core

open System

// A persistent list of byte strings: an AVL tree of small array chunks (a rope), with one loose chunk at
// each end (the "fingers").
//
// Why this shape: a rope of chunks keeps Redis's quicklist idea (elements packed in small arrays, so a
// million elements are ~30k tree nodes, not a million) while staying immutable and structurally shared,
// which the snapshot-based rewrite needs. AVL join/split give every middle operation in O(log n) with
// short, checkable code (a finger tree would give the same bounds with far more of it). The end chunks
// absorb LPUSH/RPUSH/LPOP/RPOP: a pop only shortens a finger; a push copies one finger of at most `B`
// references, and only every `B`-th push joins a full chunk into the tree (and every `B`-th pop splits one
// off), so end operations cost O(B) copying plus O((log n) / B) amortised tree work — constant in practice.
//
// Complexities (n elements, k touched):
//   push/pop at either end   O(1) amortised (as above)
//   count                    O(1)
//   item / set (index)       O(log n)
//   insertAt / removeAt      O(log n)
//   splitAt / append         O(log n)       (LTRIM, LPOP with a count, LMOVE)
//   slice start count        O(log n + k)   (LRANGE)
//   ofSeq / toSeq / toSeqBack O(n)

/// A node of the rope: a chunk of 1..B elements, or two subtrees with their element count and height.
[<AllowNullLiteral>]
type internal PNode(left: PNode, right: PNode, chunk: byte[][], size: int, height: int) =
    member _.Left = left
    member _.Right = right
    /// Non-null exactly for a leaf.
    member _.Chunk = chunk
    member _.Size = size
    member _.Height = height

/// A persistent list of byte strings: elements are `Front @ Mid @ Back`.
///
/// The fingers are arrays of up to B slots with a logical length, so a pop only shortens the length and
/// copies nothing. A push writes the slot just past the length in place when that slot has never been
/// written (it is null): no version of the list can see it, since every version that reaches that far
/// wrote it. Otherwise (an older version is being pushed onto again, or the slot held a popped element) the
/// push copies the live part into a fresh B-slot array. So nearly every push allocates only the PList
/// itself. The front finger is stored reversed, so both fingers grow and shrink at their array's end.
/// A popped element stays referenced by its finger array until that array is dropped: at most B per end.
/// Only one thread may push at a time (the executor's lock sees to it); readers of any version are free.
[<Sealed>]
type PList internal (front: byte[][], frontLen: int, mid: PNode, back: byte[][], backLen: int) =
    /// The front finger, reversed: element i of the list (i < FrontLen) is Front[FrontLen - 1 - i].
    member internal _.Front = front
    member internal _.FrontLen = frontLen
    /// null when empty.
    member internal _.Mid = mid
    member internal _.Back = back
    member internal _.BackLen = backLen
    member _.Count = frontLen + (if isNull mid then 0 else mid.Size) + backLen

module internal Rope =
    /// Chunk capacity.
    [<Literal>]
    let B = 32

    let inline size (n: PNode) = if isNull n then 0 else n.Size
    let inline height (n: PNode) = if isNull n then -1 else n.Height
    let leaf (a: byte[][]) : PNode = if a.Length = 0 then null else PNode(null, null, a, a.Length, 0)

    let private node (l: PNode) (r: PNode) : PNode =
        if isNull l then r
        elif isNull r then l
        // Two small neighbouring chunks become one, so splits and inserts do not leave dust behind.
        elif not (isNull l.Chunk) && not (isNull r.Chunk) && l.Size + r.Size <= B then
            leaf (Array.append l.Chunk r.Chunk)
        else PNode(l, r, null, l.Size + r.Size, 1 + max l.Height r.Height)

    /// Joins two AVL trees whose heights differ by at most 2 into a balanced one.
    let private balance (l: PNode) (r: PNode) : PNode =
        let hl, hr = height l, height r

        if hl > hr + 1 then
            if height l.Left >= height l.Right then node l.Left (node l.Right r)
            else node (node l.Left l.Right.Left) (node l.Right.Right r)
        elif hr > hl + 1 then
            if height r.Right >= height r.Left then node (node l r.Left) r.Right
            else node (node l r.Left.Left) (node r.Left.Right r.Right)
        else node l r

    /// Concatenation: O(|height l - height r| + 1).
    let rec join (l: PNode) (r: PNode) : PNode =
        if isNull l then r
        elif isNull r then l
        elif l.Height > r.Height + 1 then balance l.Left (join l.Right r)
        elif r.Height > l.Height + 1 then balance (join l r.Left) r.Right
        else node l r

    /// The first `i` elements and the rest (0 <= i <= size).
    let rec split (n: PNode) (i: int) : struct (PNode * PNode) =
        if isNull n then struct (null, null)
        elif i <= 0 then struct (null, n)
        elif i >= n.Size then struct (n, null)
        elif not (isNull n.Chunk) then struct (leaf n.Chunk[.. i - 1], leaf n.Chunk[i..])
        elif i < n.Left.Size then
            let struct (a, b) = split n.Left i
            struct (a, join b n.Right)
        elif i = n.Left.Size then struct (n.Left, n.Right)
        else
            let struct (a, b) = split n.Right (i - n.Left.Size)
            struct (join n.Left a, b)

    let rec item (n: PNode) (i: int) : byte[] =
        if not (isNull n.Chunk) then n.Chunk[i]
        elif i < n.Left.Size then item n.Left i
        else item n.Right (i - n.Left.Size)

    let rec setAt (n: PNode) (i: int) (v: byte[]) : PNode =
        if not (isNull n.Chunk) then
            let a = Array.copy n.Chunk
            a[i] <- v
            leaf a
        elif i < n.Left.Size then PNode(setAt n.Left i v, n.Right, null, n.Size, n.Height)
        else PNode(n.Left, setAt n.Right (i - n.Left.Size) v, null, n.Size, n.Height)

    let rec insertAt (n: PNode) (i: int) (v: byte[]) : PNode =
        if isNull n then leaf [| v |]
        elif not (isNull n.Chunk) then
            let a = n.Chunk
            let b = Array.zeroCreate (a.Length + 1)
            Array.blit a 0 b 0 i
            b[i] <- v
            Array.blit a i b (i + 1) (a.Length - i)
            if b.Length <= B then leaf b
            else
                let h = b.Length / 2
                PNode(leaf b[.. h - 1], leaf b[h..], null, b.Length, 1)
        elif i <= n.Left.Size then balance (insertAt n.Left i v) n.Right
        else balance n.Left (insertAt n.Right (i - n.Left.Size) v)

    let rec removeAt (n: PNode) (i: int) : PNode =
        if not (isNull n.Chunk) then leaf (Array.removeAt i n.Chunk)
        elif i < n.Left.Size then join (removeAt n.Left i) n.Right
        else join n.Left (removeAt n.Right (i - n.Left.Size))

    /// Copies `count` elements from index `start` into `dst` at `at`.
    let rec copyTo (n: PNode) (start: int) (count: int) (dst: byte[][]) (at: int) : unit =
        if count > 0 then
            if not (isNull n.Chunk) then Array.blit n.Chunk start dst at count
            else
                let ls = n.Left.Size

                if start < ls then
                    let fromLeft = min count (ls - start)
                    copyTo n.Left start fromLeft dst at
                    copyTo n.Right 0 (count - fromLeft) dst (at + fromLeft)
                else copyTo n.Right (start - ls) count dst at

    /// Every element, front to back or back to front. The walk keeps an explicit stack of nodes: nested
    /// `yield!` would cost a step per tree level per element.
    let private walk (backwards: bool) (n: PNode) : seq<byte[]> =
        seq {
            if not (isNull n) then
                let stack = Collections.Generic.Stack<PNode>()
                stack.Push n

                while stack.Count > 0 do
                    let x = stack.Pop()

                    if not (isNull x.Chunk) then
                        if backwards then
                            for i in x.Chunk.Length - 1 .. -1 .. 0 do
                                yield x.Chunk[i]
                        else
                            for e in x.Chunk do
                                yield e
                    else
                        // The side to visit first goes on the stack last.
                        stack.Push(if backwards then x.Left else x.Right)
                        stack.Push(if backwards then x.Right else x.Left)
        }

    let toSeq (n: PNode) : seq<byte[]> = walk false n
    let toSeqBack (n: PNode) : seq<byte[]> = walk true n

    /// A perfectly balanced tree over full chunks: O(n).
    let ofArray (items: byte[][]) : PNode =
        let chunks = items |> Array.chunkBySize B |> Array.map leaf

        let rec build lo hi =
            if lo >= hi then null
            elif hi - lo = 1 then chunks[lo]
            else
                let m = (lo + hi) / 2
                node (build lo m) (build m hi)

        build 0 chunks.Length

    /// The tree is a valid AVL tree with right sizes and heights and non-empty chunks of at most B (tests).
    let rec isValid (n: PNode) : bool =
        isNull n
        || (if not (isNull n.Chunk) then
                n.Chunk.Length > 0 && n.Chunk.Length <= B && n.Size = n.Chunk.Length && n.Height = 0
            else
                not (isNull n.Left)
                && not (isNull n.Right)
                && n.Size = n.Left.Size + n.Right.Size
                && n.Height = 1 + max n.Left.Height n.Right.Height
                && abs (n.Left.Height - n.Right.Height) <= 1
                && isValid n.Left
                && isValid n.Right)

module PList =
    open Rope

    let empty = PList([||], 0, null, [||], 0)
    let count (l: PList) = l.Count
    let isEmpty (l: PList) = l.Count = 0

    let private ofTree (t: PNode) = if isNull t then empty else PList([||], 0, t, [||], 0)

    /// The front finger's elements, in list order.
    let private frontItems (l: PList) : byte[][] =
        let n = l.FrontLen
        Array.init n (fun i -> l.Front[n - 1 - i])

    /// The back finger's elements, in list order: a full finger is the array itself (no slot of it can be
    /// written again, so a chunk may share it).
    let private backItems (l: PList) : byte[][] =
        if l.BackLen = l.Back.Length then l.Back else Array.sub l.Back 0 l.BackLen

    /// A finger array holding `x` at `len` (len < B): the same array when that slot was never written,
    /// else a B-slot copy of the live part (see the type's comment).
    let private grow (a: byte[][]) (len: int) (x: byte[]) : byte[][] =
        if len < a.Length && isNull a[len] then
            a[len] <- x
            a
        else
            let r = Array.zeroCreate B
            Array.blit a 0 r 0 len
            r[len] <- x
            r

    /// A new finger of B slots holding `x`: the pushes that follow fill it in place.
    let private fresh (x: byte[]) : byte[][] =
        let a = Array.zeroCreate B
        a[0] <- x
        a

    /// The whole list as one tree (the fingers folded in): O(log n).
    let private tree (l: PList) : PNode =
        join (join (leaf (frontItems l)) l.Mid) (leaf (backItems l))

    /// Front to back.
    let toSeq (l: PList) : seq<byte[]> =
        seq {
            for i in l.FrontLen - 1 .. -1 .. 0 do
                yield l.Front[i]

            yield! Rope.toSeq l.Mid

            for i in 0 .. l.BackLen - 1 do
                yield l.Back[i]
        }

    /// Back to front.
    let toSeqBack (l: PList) : seq<byte[]> =
        seq {
            for i in l.BackLen - 1 .. -1 .. 0 do
                yield l.Back[i]

            yield! Rope.toSeqBack l.Mid

            for i in 0 .. l.FrontLen - 1 do
                yield l.Front[i]
        }

    let ofArray (items: byte[][]) : PList = ofTree (Rope.ofArray items)
    let ofSeq (items: seq<byte[]>) : PList = ofArray (Seq.toArray items)

    let pushFront (x: byte[]) (l: PList) : PList =
        if l.FrontLen < B then PList(grow l.Front l.FrontLen x, l.FrontLen + 1, l.Mid, l.Back, l.BackLen)
        else PList(fresh x, 1, join (leaf (frontItems l)) l.Mid, l.Back, l.BackLen)

    let pushBack (x: byte[]) (l: PList) : PList =
        if l.BackLen < B then PList(l.Front, l.FrontLen, l.Mid, grow l.Back l.BackLen x, l.BackLen + 1)
        else PList(l.Front, l.FrontLen, join l.Mid (leaf (backItems l)), fresh x, 1)

    /// Several pushes at the front, each element in turn (LPUSH a b c leaves c first).
    let pushFrontMany (xs: byte[][]) (l: PList) : PList =
        if xs.Length <= B then Array.fold (fun acc x -> pushFront x acc) l xs
        else ofTree (join (Rope.ofArray (Array.rev xs)) (tree l))

    let pushBackMany (xs: byte[][]) (l: PList) : PList =
        if xs.Length <= B then Array.fold (fun acc x -> pushBack x acc) l xs
        else ofTree (join (tree l) (Rope.ofArray xs))

    /// The element at `i` (0 <= i < count).
    let item (i: int) (l: PList) : byte[] =
        let f = l.FrontLen
        let m = size l.Mid

        if i < f then l.Front[f - 1 - i]
        elif i < f + m then Rope.item l.Mid (i - f)
        else l.Back[i - f - m]

    let head (l: PList) : byte[] = item 0 l
    let last (l: PList) : byte[] = item (l.Count - 1) l

    /// A tree's elements, in order.
    let private items (t: PNode) : byte[][] =
        let a = Array.zeroCreate (size t)
        Rope.copyTo t 0 a.Length a 0
        a

    /// The list without its first element (non-empty list).
    let popFront (l: PList) : PList =
        if l.FrontLen > 0 then PList(l.Front, l.FrontLen - 1, l.Mid, l.Back, l.BackLen)
        elif not (isNull l.Mid) then
            // The tree's first chunk's worth of elements becomes the front finger, less the one popped.
            let struct (chunk, rest) = Rope.split l.Mid (min B (size l.Mid))
            let a = Array.rev (items chunk)
            PList(a, a.Length - 1, rest, l.Back, l.BackLen)
        else
            // Only the back finger holds elements: it becomes the front finger.
            let a = Array.rev (backItems l)
            PList(a, a.Length - 1, null, [||], 0)

    let popBack (l: PList) : PList =
        if l.BackLen > 0 then PList(l.Front, l.FrontLen, l.Mid, l.Back, l.BackLen - 1)
        elif not (isNull l.Mid) then
            let n = size l.Mid
            let struct (rest, chunk) = Rope.split l.Mid (n - min B n)
            let a = items chunk
            PList(l.Front, l.FrontLen, rest, a, a.Length - 1)
        else
            let a = frontItems l
            PList([||], 0, null, a, a.Length - 1)

    let set (i: int) (x: byte[]) (l: PList) : PList =
        let f = l.FrontLen
        let m = size l.Mid

        if i < f then
            let a = Array.sub l.Front 0 f
            a[f - 1 - i] <- x
            PList(a, f, l.Mid, l.Back, l.BackLen)
        elif i < f + m then PList(l.Front, f, Rope.setAt l.Mid (i - f) x, l.Back, l.BackLen)
        else
            let a = Array.sub l.Back 0 l.BackLen
            a[i - f - m] <- x
            PList(l.Front, f, l.Mid, a, a.Length)

    /// Inserts `x` so that it lands at index `i` (0 <= i <= count).
    let insertAt (i: int) (x: byte[]) (l: PList) : PList = ofTree (Rope.insertAt (tree l) i x)

    let removeAt (i: int) (l: PList) : PList = ofTree (Rope.removeAt (tree l) i)

    /// The first `i` elements and the rest.
    let splitAt (i: int) (l: PList) : struct (PList * PList) =
        let struct (a, b) = Rope.split (tree l) (max 0 (min i l.Count))
        struct (ofTree a, ofTree b)

    let append (a: PList) (b: PList) : PList =
        if a.Count = 0 then b
        elif b.Count = 0 then a
        else ofTree (join (tree a) (tree b))

    /// `count` elements from `start`, front to back (the range must lie inside the list).
    let slice (start: int) (count: int) (l: PList) : byte[][] =
        let dst = Array.zeroCreate<byte[]> count
        let f = l.FrontLen
        let m = size l.Mid
        let mutable at = 0
        let mutable i = start
        // The front finger, then the tree, then the back finger.
        while at < count && i < f do
            dst[at] <- l.Front[f - 1 - i]
            at <- at + 1
            i <- i + 1

        if at < count && i < f + m then
            let k = min (count - at) (f + m - i)
            Rope.copyTo l.Mid (i - f) k dst at
            at <- at + k
            i <- i + k

        while at < count do
            dst[at] <- l.Back[i - f - m]
            at <- at + 1
            i <- i + 1

        dst

    /// Structure check for tests.
    let internal isValid (l: PList) =
        l.FrontLen >= 0 && l.FrontLen <= B && l.FrontLen <= l.Front.Length
        && l.BackLen >= 0 && l.BackLen <= B && l.BackLen <= l.Back.Length
        && Rope.isValid l.Mid
