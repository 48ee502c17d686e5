//! Configuration of the routing engine (flags with env twins, documented defaults).

use clap::Args;
use triage_domain::routing::RoutingParams;

/// How routing behaves; every flag has an `APPEAL_TRIAGE_*` env twin.
#[derive(Debug, Clone, Args)]
pub struct RoutingConfig {
    /// Nearest confirmed cases consulted per appeal.
    #[arg(long, env = "APPEAL_TRIAGE_KNN_K", default_value_t = 40, global = true)]
    pub knn_k: usize,
    /// Similar past cases returned as evidence.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_EVIDENCE_CASES",
        default_value_t = 5,
        global = true
    )]
    pub evidence_cases: usize,
    /// Window (days) in which a near-identical appeal from the same place is a duplicate.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_DUPLICATE_DAYS",
        default_value_t = 14,
        global = true
    )]
    pub duplicate_days: i64,
    /// Cosine similarity at or above which two appeals are near-identical.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_DUPLICATE_SIMILARITY",
        default_value_t = 0.97,
        global = true
    )]
    pub duplicate_similarity: f32,
    /// Similarity at which appeals count towards a campaign.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_CAMPAIGN_SIMILARITY",
        default_value_t = 0.95,
        global = true
    )]
    pub campaign_similarity: f32,
    /// Near-identical appeals in the window (this one included) that make a campaign.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_CAMPAIGN_MIN",
        default_value_t = 5,
        global = true
    )]
    pub campaign_min: usize,
    /// Whether a campaign's repeats (at least `campaign_min_chars` long) are
    /// taken as not a request: stored, linked to the campaign, sent to no
    /// department. Off by default: where history carries no label for
    /// campaigns, they are only linked (the decision's `campaign`).
    #[arg(
        long,
        env = "APPEAL_TRIAGE_CAMPAIGN_NOT_REQUEST",
        default_value_t = false,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub campaign_not_request: bool,
    /// Shortest text (characters) a campaign repeat must have to be taken as
    /// not a request: short stock phrases ("Нет горячей воды") repeat because
    /// many people have the same problem, not because of a campaign.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_CAMPAIGN_MIN_CHARS",
        default_value_t = 100,
        global = true
    )]
    pub campaign_min_chars: usize,
    /// Precision the not-a-request detector must reach on held-out recent
    /// history before it may take a text for thanks (categories the tenant
    /// marks as not a request teach it; none marked: no detector).
    #[arg(
        long,
        env = "APPEAL_TRIAGE_NOT_REQUEST_PRECISION",
        default_value_t = 0.9,
        global = true
    )]
    pub not_request_precision: f64,
    /// Most recent confirmed cases held out (at most a fifth of the history)
    /// to learn the signal weights and calibrate confidence and prediction sets.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_CALIBRATION_CASES",
        default_value_t = 4000,
        global = true
    )]
    pub calibration_cases: usize,
    /// Held-out cases needed before the signal weights are learned from them
    /// (fewer: the configured weights apply); 0 never learns them.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_LEARN_WEIGHTS_MIN",
        default_value_t = 1000,
        global = true
    )]
    pub learn_weights_min: usize,
    /// Refit the routing head after this many new confirmed cases.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_REFIT_AFTER",
        default_value_t = 500,
        global = true
    )]
    pub refit_after: u64,
    /// Most recent confirmed cases the head is fitted on (bounds memory and time).
    #[arg(
        long,
        env = "APPEAL_TRIAGE_HEAD_MAX_CASES",
        default_value_t = 200_000,
        global = true
    )]
    pub head_max_cases: usize,
    /// Precision auto-routing must keep: the auto-routing threshold is learned
    /// per tenant from the calibration cases as the lowest confidence at which
    /// precision reaches this (with a statistical margin). A department's own
    /// threshold overrides it; the tenant's `auto_threshold` applies until
    /// enough calibration cases exist.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_TARGET_PRECISION",
        default_value_t = 0.95,
        global = true
    )]
    pub target_precision: f64,
    /// Radius (metres) within which confirmed cases count as the same spot
    /// (building or yard) as an appeal with coordinates; 0 turns it off.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_SPOT_RADIUS_M",
        default_value_t = 30.0,
        global = true
    )]
    pub spot_radius_m: f64,
    /// Most recent same-spot cases consulted per appeal.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_SPOT_MAX_CASES",
        default_value_t = 50,
        global = true
    )]
    pub spot_max_cases: usize,
    /// Where an appeal has no valid coordinates, find its building's history
    /// by the street and house its address or text names
    /// (`triage_domain::address`); false: coordinates only.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_SPOT_FROM_ADDRESS",
        default_value_t = true,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub spot_from_address: bool,
    /// Where a building has fewer than 3 confirmed cases of its own, the
    /// nearest confirmed cases within this radius (metres) vote for who
    /// serves the surrounding streets (`nearby_cases` signals); 0: off.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_AREA_RADIUS_M",
        default_value_t = 300.0,
        global = true
    )]
    pub area_radius_m: f64,
    /// How many of the nearest cases around a building vote (and as many of
    /// those with the appeal's category).
    #[arg(
        long,
        env = "APPEAL_TRIAGE_AREA_MAX_CASES",
        default_value_t = 10,
        global = true
    )]
    pub area_max_cases: usize,
    /// Days after which a same-spot case's vote counts half as much as the
    /// newest one's: who serves a building changes, and recent cases say
    /// more about it than old ones (docs/routing.md); 0: age does not matter.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_SPOT_HALF_LIFE_DAYS",
        default_value_t = 30.0,
        global = true
    )]
    pub spot_half_life_days: f64,
    /// Days after which a confirmed case counts half in a department's
    /// recent activity (the `activity` signal: a renamed or replaced
    /// department falls, its successor rises; docs/routing.md); 0: off.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_ACTIVITY_HALF_LIFE_DAYS",
        default_value_t = 14.0,
        global = true
    )]
    pub activity_half_life_days: f64,
    /// Step of the adaptive conformal level: after each confirmed case the
    /// level moves by this times (alpha - miss), so prediction sets keep their
    /// promised coverage when the months change; 0 keeps the calibrated level.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_CONFORMAL_GAMMA",
        default_value_t = 0.005,
        global = true
    )]
    pub conformal_gamma: f64,
    /// Calibrate on what routing knew before the held-out cases began (true),
    /// not before each of them: appeals after a refit are routed without each
    /// other's departments until those are confirmed, and calibrating as if
    /// every neighbour were confirmed at once made probabilities overconfident
    /// (docs/routing.md).
    #[arg(
        long,
        env = "APPEAL_TRIAGE_CALIBRATE_STALE",
        default_value_t = true,
        action = clap::ArgAction::Set,
        global = true
    )]
    pub calibrate_stale: bool,
    /// Days between what calibration knows and the held-out cases it scores:
    /// the models, counts and neighbours that score them are those of cases
    /// received this long before the first of them (at most half the
    /// history before them is given up). Appeals are routed weeks or months
    /// after the cases a refit learned from when confirmations are slow, and
    /// a calibration that never saw such staleness promises too much
    /// (docs/routing.md). 0: none.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_CALIBRATION_GAP_DAYS",
        default_value_t = 0,
        global = true
    )]
    pub calibration_gap_days: u32,
    /// Recent confirmed outcomes that reshape the confidence shown and move
    /// the learned auto-routing threshold between refits (the window starts
    /// with the calibration cases'); 0: the fitted calibration alone
    /// (docs/routing.md).
    #[arg(
        long,
        env = "APPEAL_TRIAGE_RECENT_OUTCOMES",
        default_value_t = 4000,
        global = true
    )]
    pub recent_outcomes: usize,
    /// Confirmations after a start before recent outcomes take over from the
    /// fitted calibration.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_RECENT_OUTCOMES_MIN",
        default_value_t = 200,
        global = true
    )]
    pub recent_outcomes_min: usize,
    /// Days after which an auto-routed appeal no department sent back counts
    /// as confirmed (silence is consent): it becomes a case routing learns
    /// from and a right outcome for calibration, as an accepted suggestion
    /// is. Checked by `serve` every few minutes; 0: never.
    #[arg(
        long,
        env = "APPEAL_TRIAGE_CONFIRM_AUTO_AFTER_DAYS",
        default_value_t = 14,
        global = true
    )]
    pub confirm_auto_after_days: u32,
}

impl Default for RoutingConfig {
    fn default() -> Self {
        Self {
            knn_k: 40,
            evidence_cases: 5,
            duplicate_days: 14,
            duplicate_similarity: 0.97,
            campaign_similarity: 0.95,
            campaign_min: 5,
            campaign_not_request: false,
            campaign_min_chars: 100,
            not_request_precision: 0.9,
            calibration_cases: 4000,
            learn_weights_min: 1000,
            refit_after: 500,
            head_max_cases: 200_000,
            target_precision: 0.95,
            spot_radius_m: 30.0,
            spot_max_cases: 50,
            spot_from_address: true,
            area_radius_m: 300.0,
            area_max_cases: 10,
            spot_half_life_days: 30.0,
            activity_half_life_days: 14.0,
            conformal_gamma: 0.005,
            calibrate_stale: true,
            calibration_gap_days: 0,
            recent_outcomes: 4000,
            recent_outcomes_min: 200,
            confirm_auto_after_days: 14,
        }
    }
}

impl RoutingConfig {
    /// The domain scorer's parameters.
    pub fn params(&self) -> RoutingParams {
        RoutingParams {
            knn_k: self.knn_k,
            geo_half_life_days: self.spot_half_life_days.max(0.0),
            ..RoutingParams::default()
        }
    }
}
