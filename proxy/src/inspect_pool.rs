//! Threads for inspecting large bodies, at the lowest scheduling class.
//!
//! A large body of hostile text can cost the engine seconds. On the
//! serving threads that would stall every other request of the thread; on
//! ordinary threads it would still take the cores from them. These threads
//! run at nice 19 (the lowest weight of the normal policy): a serving
//! thread that wakes up preempts them at once. Not `SCHED_IDLE`: measured,
//! a pool thread preempted while holding a lock the serving threads need
//! (the engine's cache pool, the allocator) stalled them for 70–80 ms.
//!
//! Invariant: at most `threads` inspections run at once; more queue in
//! arrival order. The threads end when the pool is dropped.

use std::sync::mpsc;
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

pub struct InspectPool {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
}

impl InspectPool {
    pub fn new(threads: usize) -> InspectPool {
        let (sender, receiver) = mpsc::channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        for index in 0..threads.max(1) {
            let receiver = receiver.clone();
            let spawned = std::thread::Builder::new()
                .name(format!("rulegate-inspect-{index}"))
                .spawn(move || {
                    lower_priority();
                    loop {
                        // Hold the lock only to take the next job.
                        let job = match receiver.lock() {
                            Ok(receiver) => receiver.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
            if let Err(error) = spawned {
                tracing::warn!("cannot start an inspection thread: {error}");
            }
        }
        InspectPool {
            jobs: Mutex::new(Some(sender)),
        }
    }

    /// Runs `work` on a pool thread; `None` if the pool is gone or the work
    /// panicked.
    pub async fn run<R: Send + 'static>(
        &self,
        work: impl FnOnce() -> R + Send + 'static,
    ) -> Option<R> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work));
            let _ = reply.send(result.ok());
        });
        let sent = self
            .jobs
            .lock()
            .ok()
            .and_then(|jobs| jobs.as_ref().map(|jobs| jobs.send(job).is_ok()));
        if sent != Some(true) {
            return None;
        }
        answer.await.ok().flatten()
    }
}

impl Drop for InspectPool {
    fn drop(&mut self) {
        if let Ok(mut jobs) = self.jobs.lock() {
            jobs.take();
        }
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    use thread_priority::unix::{
        set_thread_priority_and_policy, thread_native_id, NormalThreadSchedulePolicy,
        ThreadSchedulePolicy,
    };
    use thread_priority::ThreadPriority;
    let idle = ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other);
    if let Err(error) =
        set_thread_priority_and_policy(thread_native_id(), ThreadPriority::Min, idle)
    {
        tracing::debug!("inspection threads keep the normal policy: {error:?}");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_work_and_survives_a_panic() {
        let pool = InspectPool::new(1);
        assert_eq!(pool.run(|| 2 + 2).await, Some(4));
        assert_eq!(pool.run(|| -> u8 { panic!("boom") }).await, None);
        assert_eq!(pool.run(|| "still here").await, Some("still here"));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn threads_run_at_nice_19() {
        use thread_priority::unix::{
            thread_schedule_policy, NormalThreadSchedulePolicy, ThreadSchedulePolicy,
        };
        let pool = InspectPool::new(1);
        let policy = pool.run(thread_schedule_policy).await.unwrap().unwrap();
        assert_eq!(
            policy,
            ThreadSchedulePolicy::Normal(NormalThreadSchedulePolicy::Other)
        );
        // Field 19 of /proc/thread-self/stat is the nice value.
        let nice = pool
            .run(|| std::fs::read_to_string("/proc/thread-self/stat").unwrap())
            .await
            .unwrap();
        let nice: i32 = nice
            .rsplit(')')
            .next()
            .unwrap()
            .split_whitespace()
            .nth(16)
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(nice, 19);
    }
}
