//! A named bound for async closures that borrow their argument: their future
//! must be `Send` for axum's handlers, and an async closure's future type
//! cannot be named yet (no return-type notation on stable), so this trait
//! names it, as diesel-async does for its transactions.

/// An async closure taking `Arg`, whose future is `Self::Fut`.
pub trait SendBody<Arg, Out>: AsyncFnOnce(Arg) -> Out + FnOnce(Arg) -> Self::Fut {
    type Fut: Future<Output = Out>;
}

impl<F, Arg, Fut, Out> SendBody<Arg, Out> for F
where
    F: AsyncFnOnce(Arg) -> Out + FnOnce(Arg) -> Fut,
    Fut: Future<Output = Out>,
{
    type Fut = Fut;
}
