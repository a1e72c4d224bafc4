//! What processing costs: [`Usage`] at a price list ([`Prices`]: AWS's public list prices for
//! us-east-1 with their date by default, each overridable), and what the same outputs would
//! cost at the per-minute prices of MediaConvert and Tencent Cloud MPS.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::job::Job;
use super::usage::{Architecture, OutputSeconds, Usage};

/// Prices in US dollars. Every field has a default (see [`Default`]); a price file names only
/// what differs.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Prices {
    /// The region the prices are for (they differ by region).
    pub region: String,
    pub lambda: LambdaPrices,
    pub s3: S3Prices,
    pub mediaconvert: MediaConvertPrices,
    pub mps: MpsPrices,
}

/// AWS Lambda, on-demand, the first tier of duration.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LambdaPrices {
    pub x86_64_per_gb_second: f64,
    pub arm64_per_gb_second: f64,
    pub per_million_requests: f64,
    pub as_of: String,
    pub source: String,
}

/// Amazon S3 Standard requests.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct S3Prices {
    /// PUT, COPY, POST, LIST.
    pub put_per_thousand: f64,
    /// GET and all other requests.
    pub get_per_thousand: f64,
    pub as_of: String,
    pub source: String,
}

/// AWS Elemental MediaConvert on-demand, per minute of output: SD below 720 lines, HD up to
/// 1080, UHD above.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MediaConvertPrices {
    pub sd_per_minute: f64,
    pub hd_per_minute: f64,
    pub uhd_per_minute: f64,
    pub as_of: String,
    pub source: String,
}

/// Tencent Cloud MPS standard transcoding (H.264), per minute of output: SD up to 480 lines,
/// HD up to 720, FHD up to 1080, 2K up to 1440, 4K above.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MpsPrices {
    pub sd_per_minute: f64,
    pub hd_per_minute: f64,
    pub fhd_per_minute: f64,
    pub qhd_per_minute: f64,
    pub uhd_per_minute: f64,
    pub as_of: String,
    pub source: String,
}

impl Default for Prices {
    fn default() -> Self {
        Self {
            region: "us-east-1".into(),
            lambda: LambdaPrices::default(),
            s3: S3Prices::default(),
            mediaconvert: MediaConvertPrices::default(),
            mps: MpsPrices::default(),
        }
    }
}

impl Default for LambdaPrices {
    fn default() -> Self {
        Self {
            x86_64_per_gb_second: 0.000_016_666_7,
            arm64_per_gb_second: 0.000_013_333_4,
            per_million_requests: 0.20,
            as_of: "2025-10-01".into(),
            source: "https://aws.amazon.com/lambda/pricing/ (AWS Price List, us-east-1, effective 2025-10-01)".into(),
        }
    }
}

impl Default for S3Prices {
    fn default() -> Self {
        Self {
            put_per_thousand: 0.005,
            get_per_thousand: 0.0004,
            as_of: "2025-10-01".into(),
            source: "https://aws.amazon.com/s3/pricing/ (AWS Price List, us-east-1, effective 2025-10-01)".into(),
        }
    }
}

impl Default for MediaConvertPrices {
    fn default() -> Self {
        Self {
            sd_per_minute: 0.0075,
            hd_per_minute: 0.015,
            uhd_per_minute: 0.06,
            as_of: "2025-10-12".into(),
            source: "https://aws.amazon.com/mediaconvert/pricing/ (Basic tier, AVC, single pass, first volume tier, \
                     us-east-1; as quoted on 2025-10-12)"
                .into(),
        }
    }
}

impl Default for MpsPrices {
    fn default() -> Self {
        Self {
            sd_per_minute: 0.0024,
            hd_per_minute: 0.0049,
            fhd_per_minute: 0.0095,
            qhd_per_minute: 0.0206,
            uhd_per_minute: 0.0421,
            as_of: "undated".into(),
            source: "https://www.tencentcloud.com/document/product/1041/49204 (standard transcoding, H.264, USD \
                     per minute, the table's first column)"
                .into(),
        }
    }
}

/// What usage cost, by what it paid for (with its `total` when written out).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Cost {
    /// Lambda's duration charge (memory × time).
    pub compute: f64,
    /// Lambda's request charge.
    pub invocations: f64,
    /// S3's request charges.
    pub s3_requests: f64,
}

impl Cost {
    pub fn total(&self) -> f64 {
        self.compute + self.invocations + self.s3_requests
    }
}

impl Serialize for Cost {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let mut fields = serializer.serialize_struct("Cost", 4)?;
        fields.serialize_field("compute", &self.compute)?;
        fields.serialize_field("invocations", &self.invocations)?;
        fields.serialize_field("s3_requests", &self.s3_requests)?;
        fields.serialize_field("total", &self.total())?;
        fields.end()
    }
}

/// What the same outputs would cost at per-minute services.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Elsewhere {
    pub mediaconvert: f64,
    pub mps: f64,
}

impl Prices {
    /// What `usage` costs at these prices.
    pub fn cost(&self, usage: &Usage) -> Cost {
        let lambda = &self.lambda;
        Cost {
            compute: usage.gb_seconds(Architecture::X86_64) * lambda.x86_64_per_gb_second
                + usage.gb_seconds(Architecture::Arm64) * lambda.arm64_per_gb_second,
            invocations: usage.invocations as f64 * lambda.per_million_requests / 1e6,
            s3_requests: usage.s3.put_requests as f64 * self.s3.put_per_thousand / 1e3
                + usage.s3.get_requests as f64 * self.s3.get_per_thousand / 1e3,
        }
    }

    /// What outputs of `seconds` would cost at MediaConvert and at MPS (video only: neither
    /// list prices sound alone beside it here).
    pub fn elsewhere(&self, seconds: &OutputSeconds) -> Elsewhere {
        let (c, m) = (&self.mediaconvert, &self.mps);
        let minutes = |s: f64| s / 60.0;
        Elsewhere {
            mediaconvert: minutes(seconds.up_to_480 + seconds.up_to_719) * c.sd_per_minute
                + minutes(seconds.at_720 + seconds.up_to_1080) * c.hd_per_minute
                + minutes(seconds.up_to_1440 + seconds.above_1440) * c.uhd_per_minute,
            mps: minutes(seconds.up_to_480) * m.sd_per_minute
                + minutes(seconds.up_to_719 + seconds.at_720) * m.hd_per_minute
                + minutes(seconds.up_to_1080) * m.fhd_per_minute
                + minutes(seconds.up_to_1440) * m.qhd_per_minute
                + minutes(seconds.above_1440) * m.uhd_per_minute,
        }
    }

    /// `us-east-1 prices: Lambda and S3 as of 2025-10-01, MediaConvert as of 2025-10-12, MPS undated`.
    pub fn dated(&self) -> String {
        format!(
            "{} prices: Lambda and S3 as of {}, MediaConvert as of {}, MPS {}",
            self.region,
            self.lambda.as_of,
            self.mediaconvert.as_of,
            if self.mps.as_of == "undated" { "undated".to_owned() } else { format!("as of {}", self.mps.as_of) }
        )
    }
}

/// Dollars, with the digits a small amount needs: `$1.23`, `$0.0123`, `$0.000123`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Usd(pub f64);

impl fmt::Display for Usd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.abs() {
            0.0 => write!(f, "$0"),
            x if x >= 1.0 => write!(f, "${:.2}", self.0),
            x if x >= 0.01 => write!(f, "${:.4}", self.0),
            // Three significant digits.
            x => write!(f, "${:.*}", (2 - x.log10().floor() as i32).max(0) as usize, self.0),
        }
    }
}

/// What usage cost and what its outputs would cost elsewhere, in one line:
/// `$0.0123 (compute $0.0119, invocations $0.000000800, S3 $0.000400); MediaConvert $0.0300,
/// MPS $0.0190 for 2.0 min of video`.
#[derive(Clone, Copy, Debug)]
pub struct Bill<'a> {
    pub prices: &'a Prices,
    pub usage: &'a Usage,
}

impl fmt::Display for Bill<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let cost = self.prices.cost(self.usage);
        write!(
            f,
            "{} (compute {}, invocations {}, S3 {})",
            Usd(cost.total()),
            Usd(cost.compute),
            Usd(cost.invocations),
            Usd(cost.s3_requests)
        )?;
        let output = &self.usage.output;
        if output.video_minutes() > 0.0 {
            let elsewhere = self.prices.elsewhere(output);
            write!(
                f,
                "; MediaConvert {}, MPS {} for {:.1} min of video",
                Usd(elsewhere.mediaconvert),
                Usd(elsewhere.mps),
                output.video_minutes()
            )?;
        }
        Ok(())
    }
}

/// How a cost report groups jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CostBy {
    /// One row for everything.
    Total,
    Workflow,
    /// The UTC day the job was created.
    Day,
}

/// One row of a cost report: jobs, what they used and what that cost.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CostRow {
    /// The workflow or the day (`YYYY-MM-DD`); `total` for everything.
    pub key: String,
    pub jobs: u64,
    pub usage: Usage,
    pub cost: Cost,
    pub elsewhere: Elsewhere,
}

impl CostRow {
    fn add(&mut self, job: &Job, prices: &Prices) {
        self.jobs += 1;
        self.usage += job.usage;
        self.cost = prices.cost(&self.usage);
        self.elsewhere = prices.elsewhere(&self.usage.output);
    }
}

/// What jobs cost, grouped, newest group first for days and by name for workflows, with the
/// total.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CostReport {
    pub by: CostBy,
    pub rows: Vec<CostRow>,
    pub total: CostRow,
    pub prices: Prices,
}

impl CostReport {
    pub fn new(by: CostBy, prices: Prices) -> Self {
        let total = CostRow { key: "total".into(), ..CostRow::default() };
        Self { by, rows: Vec::new(), total, prices }
    }

    /// Counts `job` in its group and the total.
    pub fn add(&mut self, job: &Job) {
        self.total.add(job, &self.prices);
        let key = match self.by {
            CostBy::Total => return,
            CostBy::Workflow => job.workflow.clone(),
            CostBy::Day => job.created_at.format("%Y-%m-%d").to_string(),
        };
        // Days newest first, workflows by name.
        let found = self.rows.binary_search_by(|row| match self.by {
            CostBy::Day => key.cmp(&row.key),
            _ => row.key.cmp(&key),
        });
        let position = found.unwrap_or_else(|at| {
            self.rows.insert(at, CostRow { key, ..CostRow::default() });
            at
        });
        self.rows[position].add(job, &self.prices);
    }

    /// How much less the total cost than the same outputs at MediaConvert, 0–1 (negative
    /// when it cost more); `None` without minutes of video.
    pub fn saving_on_mediaconvert(&self) -> Option<f64> {
        let elsewhere = self.total.elsewhere.mediaconvert;
        (elsewhere > 0.0).then(|| 1.0 - self.total.cost.total() / elsewhere)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::usage::S3Usage;

    #[test]
    fn usage_is_priced_by_architecture_requests_and_s3_class() {
        let s3 = S3Usage { get_requests: 1000, put_requests: 1000, bytes_read: 0, bytes_written: 0 };
        // 1024 MB for 1000 s on arm64: 1000 GB-s.
        let usage = Usage::invocation(Architecture::Arm64, 1024, 1_000_000, s3);
        let cost = Prices::default().cost(&usage);
        assert!((cost.compute - 0.013_333_4).abs() < 1e-9, "{cost:?}");
        assert!((cost.invocations - 0.000_000_2).abs() < 1e-12);
        assert!((cost.s3_requests - 0.0054).abs() < 1e-9);
        let x86 = Prices::default().cost(&Usage::invocation(Architecture::X86_64, 1024, 1_000_000, S3Usage::default()));
        assert!(x86.compute > cost.compute, "x86_64 costs more per GB-s than arm64");
    }

    #[test]
    fn outputs_are_priced_by_each_services_classes() {
        let mut seconds = OutputSeconds::default();
        seconds.add_video(60.0, 960, 540);
        seconds.add_video(120.0, 1920, 1080);
        seconds.add_audio(600.0);
        let elsewhere = Prices::default().elsewhere(&seconds);
        // MediaConvert: 540p is SD, 1080p HD; MPS: 540p is HD, 1080p FHD. Sound alone is left out.
        assert!((elsewhere.mediaconvert - (0.0075 + 2.0 * 0.015)).abs() < 1e-9, "{elsewhere:?}");
        assert!((elsewhere.mps - (0.0049 + 2.0 * 0.0095)).abs() < 1e-9, "{elsewhere:?}");
    }

    #[test]
    fn a_price_file_names_only_what_differs() {
        let prices: Prices = serde_yaml_ng::from_str(
            "region: eu-west-1\nlambda:\n  arm64_per_gb_second: 0.00002\n  as_of: 2026-01-01\n",
        )
        .unwrap();
        assert_eq!(prices.region, "eu-west-1");
        assert_eq!(prices.lambda.arm64_per_gb_second, 0.00002);
        assert_eq!(prices.lambda.x86_64_per_gb_second, LambdaPrices::default().x86_64_per_gb_second);
        assert_eq!(prices.s3, S3Prices::default());
        let typo = serde_yaml_ng::from_str::<Prices>("lambda:\n  arm_per_gb_second: 1\n").unwrap_err();
        assert!(typo.to_string().contains("arm_per_gb_second"), "{typo}");
    }

    #[test]
    fn a_report_groups_jobs_by_workflow_or_day_and_totals_them() {
        use crate::domain::object::{ObjectCreated, ObjectHead, ObjectRef};
        use crate::domain::workflow::{Workflow, WorkflowSpec};
        let job = |workflow: &str, day: u32, seconds: u64| {
            let spec = WorkflowSpec::from_value(serde_json::json!({
                "name": workflow, "trigger": {"bucket": "media", "dir": "in/"}, "tasks": [{"type": "transcode"}]
            }))
            .unwrap();
            let at = chrono::TimeZone::with_ymd_and_hms(&chrono::Utc, 2026, 12, day, 10, 0, 0).unwrap();
            let workflow = Workflow::create(spec, at).unwrap().enable(at);
            let upload = ObjectCreated {
                object: ObjectRef::new("media", "in/a.mp4"),
                size: Some(1),
                etag: None,
                version_id: None,
                sequencer: None,
                event_time: at,
            };
            let (mut job, _) = Job::start(&workflow, &upload, &ObjectHead::default(), at);
            job.usage = Usage::invocation(Architecture::Arm64, 1024, seconds * 1000, S3Usage::default());
            job.usage.output.add_video(seconds as f64, 1280, 720);
            job
        };
        let jobs = [job("a", 1, 10), job("b", 1, 20), job("a", 2, 30)];
        let mut by_workflow = CostReport::new(CostBy::Workflow, Prices::default());
        let mut by_day = CostReport::new(CostBy::Day, Prices::default());
        for job in &jobs {
            by_workflow.add(job);
            by_day.add(job);
        }
        let keys = |report: &CostReport| report.rows.iter().map(|r| (r.key.clone(), r.jobs)).collect::<Vec<_>>();
        assert_eq!(keys(&by_workflow), [("a".to_owned(), 2), ("b".to_owned(), 1)]);
        assert_eq!(keys(&by_day), [("2026-12-02".to_owned(), 1), ("2026-12-01".to_owned(), 2)]);
        assert_eq!(by_workflow.total.jobs, 3);
        assert!((by_workflow.total.usage.gb_seconds(Architecture::Arm64) - 60.0).abs() < 1e-9);
        assert!((by_workflow.total.cost.total() - by_day.total.cost.total()).abs() < 1e-12);
        let row_sum: f64 = by_workflow.rows.iter().map(|r| r.cost.total()).sum();
        assert!((row_sum - by_workflow.total.cost.total()).abs() < 1e-12);
        // A minute of 720p at 1 GB for a minute on arm64 costs far less than at MediaConvert.
        assert!(by_workflow.saving_on_mediaconvert().unwrap() > 0.9);
        let mut empty = CostReport::new(CostBy::Total, Prices::default());
        assert!(empty.rows.is_empty() && empty.saving_on_mediaconvert().is_none());
        empty.add(&jobs[0]);
        assert!(empty.rows.is_empty() && empty.total.jobs == 1);
    }

    #[test]
    fn amounts_keep_the_digits_they_need() {
        assert_eq!(Usd(12.345).to_string(), "$12.35");
        assert_eq!(Usd(0.0123).to_string(), "$0.0123");
        assert_eq!(Usd(0.000_123_4).to_string(), "$0.000123");
        assert_eq!(Usd(0.002_35).to_string(), "$0.00235");
        assert_eq!(Usd(0.0).to_string(), "$0");
    }

    #[test]
    fn a_bill_reads_in_one_line() {
        let mut usage = Usage::invocation(Architecture::Arm64, 3008, 60_000, S3Usage::default());
        usage.output.add_video(60.0, 1280, 720);
        let line = Bill { prices: &Prices::default(), usage: &usage }.to_string();
        assert_eq!(
            line,
            "$0.00235 (compute $0.00235, invocations $0.000000200, S3 $0); MediaConvert $0.0150, MPS $0.00490 for 1.0 \
             min of video"
        );
    }
}
