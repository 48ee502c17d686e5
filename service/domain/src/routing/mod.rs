//! Routing: which department is competent for an appeal, how sure we are, and
//! the smallest set of departments that surely contains the right one.
//!
//! Signals are combined as a product of experts (a weighted sum of log
//! probabilities), because each one answers a different question:
//! - [`knn`]: what the most similar confirmed past cases were routed to — the
//!   signal that learns from a correction the moment it is stored;
//! - [`head`]: a softmax model over the text embedding, refitted in the
//!   background on the tenant's confirmed history;
//! - [`areas`]: which departments serve the appeal's district — learned from
//!   history or declared in the catalogue; housing agencies exist per district,
//!   so the text alone cannot name the right one;
//! - [`roles`]: families of local departments doing the same job in different
//!   districts (one housing agency per district), so competence is learned
//!   from the whole city's cases and the district names the member;
//! - [`category`]: the category the citizen picked on the portal, with
//!   back-off from the sub-category to its parent;
//! - [`activity`]: which departments took the recent confirmed cases, against
//!   their whole history — how a renamed or replaced department is noticed;
//! - descriptions: similarity to each department's description, for the cold
//!   start before any history exists.
//!
//! The weights of the signals are learned per tenant from its held-out recent
//! cases ([`weights`]); the combined scores are calibrated by a fitted
//! temperature and wrapped in a split-conformal prediction set ([`calibration`]);
//! between refits, the latest confirmed outcomes reshape the confidence and
//! move the auto-routing threshold as the world drifts ([`recent`]); thanks
//! and campaign repeats are told apart from requests ([`not_request`]).

pub mod activity;
pub mod areas;
pub mod calibration;
pub mod category;
pub mod decay;
pub mod decide;
pub mod head;
pub mod knn;
pub mod lexical;
pub mod not_request;
pub mod recent;
pub mod roles;
mod scorer;
pub mod signals;
pub mod weights;

pub use activity::Activity;
pub use areas::AreaStats;
pub use calibration::{Calibration, ConformalSet};
pub use category::{CategoryEstimate, CategoryStats};
pub use decide::{decide, Decided, Policy};
pub use head::{HeadFitOptions, SoftmaxHead};
pub use knn::Neighbour;
pub use lexical::{LexicalFitOptions, LexicalHead, LexicalPlace, SparseVec};
pub use not_request::{DetectorFitOptions, NotRequestDetector};
pub use recent::RecentOutcomes;
pub use roles::{Family, LocalDepartment, RoleOptions, Roles};
pub use scorer::{DepartmentInfo, RoutingParams, ScoreInput, Scored, Scorer, SignalProbs};
pub use signals::{SignalKind, SignalWeights, SIGNALS};
pub use weights::{LearnedWeights, TextLength, WeightCase, WeightFitOptions};
