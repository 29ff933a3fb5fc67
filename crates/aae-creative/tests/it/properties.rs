//! Property tests: arbitrary headlines never panic and always fit.

use aae_creative::{CreativeSize, render_ad_creatives};
use proptest::prelude::*;

use crate::support::{assert_text_fits, spec};

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn random_unicode_headlines_always_fit(headline in "\\p{L}[\\p{L} ]{0,199}") {
        let mut s = spec();
        s.headline = headline;
        s.sizes = vec![
            CreativeSize::MediumRectangle,
            CreativeSize::Leaderboard,
            CreativeSize::WideSkyscraper,
            CreativeSize::MobileBanner,
        ];
        let creatives = render_ad_creatives(&s).unwrap();
        prop_assert_eq!(creatives.len(), 4);
        for c in &creatives {
            assert_text_fits(c);
            let head = &c.layout.texts[0];
            prop_assert!(head.ink_bounds.is_some() || head.truncated);
        }
    }
}
